// The ashita browser client. It keeps the console API of the original ashitajs page:
// generateSocket(addr), ashita.socket (keyed by address), ashita.node, ashita.signal.auth(addr).
"use strict";

(function () {
  // The same rule as the node's: host:port, host a DNS name, IPv4 or [IPv6], at most 255 bytes.
  const ADDRESS = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})$/;
  const MAX_SOCKETS = 32;
  // No one node's word opens more than this many sockets, and a node announced under several names gets one
  // socket (the same rules as ashita connect): so one announcer cannot fill every socket.
  const PER_ANNOUNCER = Math.max(2, Math.floor(MAX_SOCKETS / 4));
  const MAX_LOG = 200;
  const meta = document.querySelector('meta[name="ashita-node"]');

  function validAddress(addr) {
    if (typeof addr !== "string" || addr.length > 255) return false;
    const m = ADDRESS.exec(addr);
    return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65535;
  }

  const ashita = {
    node: meta && validAddress(meta.content) ? meta.content : window.location.host,
    socket: {},
    opened: {},
    // What the node said of each announced address: its id and whether it speaks TLS.
    known: {},
    signal: {
      auth(nodeIp) {
        send(nodeIp, { type: "auth", node: ashita.node, content: {} });
      },
    },
  };
  window.ashita = ashita;
  // Node id -> the address this page follows it at; announcer -> sockets opened on its word.
  const followedIds = {};
  const openedOnWordOf = {};

  function send(nodeIp, message) {
    const ws = ashita.socket[nodeIp];
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  // An announced node says whether it speaks TLS; otherwise the page's own scheme is the best guess.
  function schemeFor(addr) {
    const known = ashita.known[addr];
    if (known && typeof known.tls === "boolean") return known.tls ? "wss://" : "ws://";
    return window.location.protocol === "https:" ? "wss://" : "ws://";
  }

  // Remembers an announcement; says so when an address now answers as another node.
  function learn(entry) {
    if (!entry || !validAddress(entry.nodeIp)) return false;
    const before = ashita.known[entry.nodeIp];
    if (before && before.id && entry.id && before.id !== entry.id) {
      log(entry.nodeIp, "identity", "now node " + entry.id + ", was " + before.id);
    }
    ashita.known[entry.nodeIp] = { id: typeof entry.id === "string" ? entry.id : null, tls: entry.tls === true };
    return true;
  }

  function generateSocket(addr) {
    if (!validAddress(addr)) {
      log("local", "refused", "not a host:port address: " + String(addr).slice(0, 80));
      return undefined;
    }
    if (ashita.socket[addr]) return ashita.socket[addr];
    if (Object.keys(ashita.socket).length >= MAX_SOCKETS) {
      log("local", "refused", "already " + MAX_SOCKETS + " sockets open; not opening " + addr);
      return undefined;
    }
    const ws = new WebSocket(schemeFor(addr) + addr + "/");
    ashita.socket[addr] = ws;
    ashita.opened[addr] = new Date();
    ws.onopen = function () {
      log(addr, "open", "sending auth as " + ashita.node);
      ashita.signal.auth(addr);
      render();
    };
    ws.onmessage = function (message) { receive(addr, message.data); };
    ws.onclose = function (event) {
      log(addr, "closed", "code " + event.code + (event.reason ? " (" + event.reason + ")" : ""));
      render();
    };
    render();
    return ws;
  }
  window.generateSocket = generateSocket;

  // Opens a socket to an announced node unless the follow rules say otherwise.
  function follow(addr, id, announcer) {
    if (!validAddress(addr) || ashita.socket[addr]) return;
    if (typeof id === "string" && followedIds[id] && followedIds[id] !== addr) {
      log(announcer, "not following", addr + ": the same node as " + followedIds[id]);
      return;
    }
    if ((openedOnWordOf[announcer] || 0) >= PER_ANNOUNCER) {
      log(announcer, "not following", addr + ": already " + PER_ANNOUNCER + " nodes followed on its word");
      return;
    }
    if (generateSocket(addr)) {
      openedOnWordOf[announcer] = (openedOnWordOf[announcer] || 0) + 1;
      if (typeof id === "string") followedIds[id] = addr;
    }
  }

  function receive(from, data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch (e) {
      log(from, "unreadable", String(data).slice(0, 120));
      return;
    }
    if (event === null || typeof event !== "object" || typeof event.type !== "string") return;
    const content = event.content && typeof event.content === "object" ? event.content : {};
    log(from, event.type, JSON.stringify(content));
    switch (event.type) {
      case "nodeConnected":
        if (typeof content.id === "string" && !followedIds[content.id]) followedIds[content.id] = from;
        break;
      case "nodeDiscovered":
        if (learn(content)) follow(content.nodeIp, content.id, from);
        break;
      case "nodeList":
        if (Array.isArray(content.nodes)) content.nodes.forEach(learn);
        if (Array.isArray(content.nodeList)) {
          content.nodeList.forEach(function (addr) {
            const known = ashita.known[addr];
            follow(addr, known ? known.id : null, from);
          });
        }
        break;
    }
    if (from === ashita.node) refreshNode();
    render();
  }

  // ---- rendering ----

  // A time in the reader's own zone, 24-hour, with the zone named ("15:30:57 CET").
  function clock(date) {
    return date.toLocaleTimeString([], {
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short",
    });
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function log(from, type, details) {
    console.log("[ashita] " + from + " " + type + " " + details);
    const list = document.getElementById("log");
    if (!list) return;
    const item = el("li");
    item.append(el("span", clock(new Date()) + " ", "muted"), el("span", from + " "),
      el("span", type, "type"), el("span", " " + details));
    list.prepend(item);
    while (list.children.length > MAX_LOG) list.lastChild.remove();
  }

  const STATES = ["connecting", "open", "closing", "closed"];

  function render() {
    const body = document.querySelector("#sockets tbody");
    if (!body) return;
    body.replaceChildren();
    Object.keys(ashita.socket).forEach(function (addr) {
      const state = STATES[ashita.socket[addr].readyState];
      const row = el("tr");
      row.dataset.node = addr;
      row.append(el("td", addr), el("td", state, "state-" + state), el("td", clock(ashita.opened[addr])));
      body.append(row);
    });
    drawMesh();
  }

  function renderPeers(peers) {
    const list = document.getElementById("peers");
    list.replaceChildren();
    if (peers.length === 0) list.append(el("li", "none yet", "muted"));
    peers.forEach(function (peer) {
      const item = el("li", peer.node + " — " + peer.clients + (peer.clients === 1 ? " client" : " clients") + ", since " +
        clock(new Date(peer.since)));
      item.dataset.node = peer.node;
      list.append(item);
    });
  }

  // ---- the mesh picture: every member as a point (colour by state), this node's links as lines, this page's
  // open sockets ringed; redrawn when the node's event stream reports a member change or a socket changes ----

  const SVG = "http://www.w3.org/2000/svg";
  const MEMBER_EVENTS = ["memberJoined", "memberSuspected", "memberFailed", "memberLeft"];
  let members = null;
  let membersFetch = null;
  let membersAgain = false;

  function refreshMembers() {
    if (membersFetch) {
      membersAgain = true;
      return;
    }
    membersFetch = fetch("/api/v1/members").then(function (r) { return r.json(); }).then(function (answer) {
      if (answer && Array.isArray(answer.members)) members = answer.members;
      drawMesh();
    }).catch(function () {}).finally(function () {
      membersFetch = null;
      if (membersAgain) {
        membersAgain = false;
        refreshMembers();
      }
    });
  }

  function shape(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, String(attributes[key])); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function drawMesh() {
    const picture = document.getElementById("mesh");
    if (!picture || !members) return;
    // This node at the top, the others clockwise in address order: a member keeps its place between redraws
    // unless members join or go before it.
    const self = members.find(function (m) { return m.this; });
    const others = members.filter(function (m) { return !m.this; })
      .sort(function (a, b) { return a.address < b.address ? -1 : a.address > b.address ? 1 : 0; });
    const all = self ? [self].concat(others) : others;
    const count = all.length;
    const [cx, cy, radius] = [400, 250, 205];
    const dot = count > 60 ? 5 : count > 30 ? 7 : 9;
    const place = {};
    all.forEach(function (m, i) {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(count, 1);
      place[m.address] = { x: cx + radius * Math.cos(angle), y: cy + radius * Math.sin(angle), angle: angle };
    });
    const lines = shape("g", { class: "links" });
    const points = shape("g", { class: "members" });
    const labels = shape("g", { class: "labels" });
    const counts = { alive: 0, suspect: 0, failed: 0, left: 0 };
    all.forEach(function (m) {
      const at = place[m.address];
      const state = counts[m.state] === undefined ? "alive" : m.state;
      counts[state] += 1;
      if (self && m.linked) {
        const from = place[self.address];
        lines.append(shape("line", { x1: from.x, y1: from.y, x2: at.x, y2: at.y, class: "link" }));
      }
      const socket = ashita.socket[m.address];
      if (socket && socket.readyState === WebSocket.OPEN) {
        points.append(shape("circle", { cx: at.x, cy: at.y, r: dot + 5, class: "socket" }));
      }
      const point = shape("circle", { cx: at.x, cy: at.y, r: m.this ? dot + 2 : dot, class: "member " + state + (m.this ? " self" : "") });
      point.dataset.node = m.address;
      point.append(shape("title", {}, m.address + " · " + state + " · incarnation " + m.incarnation +
        (m.this ? " · this node" : m.linked ? " · linked" : "")));
      points.append(point);
      // Names only while they fit; past 24 members each point names itself on hover.
      if (count <= 24 || m.this) {
        const right = Math.cos(at.angle) >= -0.01;
        labels.append(shape("text", {
          x: cx + (radius + dot + 8) * Math.cos(at.angle), y: cy + (radius + dot + 8) * Math.sin(at.angle) + 4,
          "text-anchor": Math.abs(Math.cos(at.angle)) < 0.2 ? "middle" : right ? "start" : "end",
        }, m.address));
      }
    });
    picture.replaceChildren(lines, points, labels);
    const summary = document.getElementById("mesh-summary");
    if (summary) {
      summary.textContent = count <= 1 ? "no other node in the mesh yet (ashita serve PORT --join HOST:PORT)" :
        count + " members: " + counts.alive + " alive, " + counts.suspect + " suspect, " + counts.failed + " failed, " +
        counts.left + " left · this node links to " + lines.childElementCount;
    }
  }

  function followMembers() {
    if (typeof EventSource !== "function") return;
    const stream = new EventSource("/api/v1/events?types=" + MEMBER_EVENTS.join(","));
    MEMBER_EVENTS.forEach(function (type) { stream.addEventListener(type, refreshMembers); });
    stream.addEventListener("open", refreshMembers);
  }

  let refreshing = null;
  function refreshNode() {
    if (refreshing) return refreshing;
    refreshing = Promise.all([
      fetch("/api/v1/node").then(function (r) { return r.json(); }),
      fetch("/api/v1/peers").then(function (r) { return r.json(); }),
    ]).then(function (answers) {
      const node = answers[0];
      document.getElementById("node-status").textContent =
        "node " + node.id.slice(0, 12) + " · version " + node.version + " · " + node.clients + " clients · " +
        node.peers + " peers";
      renderPeers(answers[1].peers);
    }).catch(function (e) {
      document.getElementById("node-status").textContent = "cannot reach this node's API: " + e.message;
    }).finally(function () { refreshing = null; });
    return refreshing;
  }

  function start() {
    document.getElementById("connect-form").addEventListener("submit", function (e) {
      e.preventDefault();
      const input = document.getElementById("connect-address");
      const error = document.getElementById("connect-error");
      const addr = input.value.trim();
      if (!validAddress(addr)) {
        error.textContent = "Enter a node address as host:port, e.g. 127.0.0.1:9000.";
        error.hidden = false;
        return;
      }
      error.hidden = true;
      generateSocket(addr);
      input.value = "";
    });
    generateSocket(ashita.node);
    refreshNode();
    refreshMembers();
    followMembers();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
