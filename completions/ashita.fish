function __ashita_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __ashita_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __ashita_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __ashita_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __ashita_parse_tokens -S
    set -l unparsed_tokens (__ashita_tokens -pc)
    switch $unparsed_tokens[1]
    case 'ashita'
        __ashita_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'serve'
            __ashita_parse_subcommand 1 'host=' 'advertise=' 'data-dir=' 'log-level=' 'tls-cert=' 'tls-key=' 'join=+' 'max-links=' 'max-members=' 'probe-interval=' 'probe-timeout=' 'suspicion-min=' 'suspicion-max=' 'refused-suspicion=' 'unreachable-suspicion=' 'gossip-interval=' 'dial-timeout=' 'link-refresh=' 'retry-interval=' 'remember-failed=' 'sync-interval=' 'link-message-rate=' 'dial-rate=' 'max-clients=' 'max-connections=' 'max-connections-per-ip=' 'message-rate=' 'message-burst=' 'auth-timeout=' 'ping-interval=' 'max-outbound-bytes=' 'socket-send-buffer=' 'max-event-streams=' 'max-event-streams-per-ip=' 'header-timeout=' 'body-timeout=' 'send-timeout=' 'max-answer-bytes=' 'max-header-bytes=' 'max-body-bytes=' 'max-frame-bytes=' 'no-verify-announcements' 'check-timeout=' 'max-checks=' 'check-rate=' 'check-rate-per-host=' 'allow-checks-to=+' 'version' 'h/help'
        case 'connect'
            __ashita_parse_subcommand 1 'cacert=' 'json' 'timeout=' 'node=' 'no-follow' 'max-connections=' 'once' 'version' 'h/help'
        case 'peers'
            __ashita_parse_subcommand 1 'cacert=' 'json' 'timeout=' 'clients' 'all' 'node' 'mesh' 'kick=' 'ban=' 'bans' 'unban=' 'version' 'h/help'
        case 'auth'
            __ashita_parse_subcommand 1 'cacert=' 'json' 'timeout=' 'token-file=' 'data-dir=' 'logout' 'status' 'version' 'h/help'
        case 'watch'
            __ashita_parse_subcommand 1 'cacert=' 'json' 'timeout=' 'types=' 'count=' 'replay' 'version' 'h/help'
        case 'help'
            __ashita_parse_subcommand -r 1 'version'
        end
    end
end

function __ashita_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __ashita_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __ashita_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __ashita_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__ashita_tokens -p)
    if test -z "$(__ashita_tokens -t)"
        set -l index (count (__ashita_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'ashita' -f
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita" version' -l 'version' -d 'Show the version.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_positional "ashita" -eq 1' -fa 'serve' -d 'Run a node: the browser page, the JSON API and WebSockets on one port.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_positional "ashita" -eq 1' -fa 'connect' -d 'Join the mesh as a headless client, the way the browser page does.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_positional "ashita" -eq 1' -fa 'peers' -d 'List a node\'s peers; as its operator, list or disconnect its clients.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_positional "ashita" -eq 1' -fa 'auth' -d 'Authenticate as a node\'s operator and keep the credential for later commands.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_positional "ashita" -eq 1' -fa 'watch' -d 'Stream a node\'s events as they happen.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_positional "ashita" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" host' -l 'host' -d 'The address to listen on.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" advertise' -l 'advertise' -d 'The address announced to clients and other nodes, if it differs from the listen address.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" data-dir' -l 'data-dir' -d 'Where the node keeps its operator token and id. (default: $XDG_DATA_HOME/ashita/PORT, or ~/.local/share/ashita/PORT)' -rfa '(__ashita_complete_directories)'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" log-level' -l 'log-level' -d 'How much to log on stderr: trace, debug, info, notice, warning, error, critical.' -rfka 'trace debug info notice warning error critical'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" tls-cert' -l 'tls-cert' -d 'Serve HTTPS and WSS with this PEM certificate chain (needs --tls-key).' -rF
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" tls-key' -l 'tls-key' -d 'The PEM private key of --tls-cert.' -rF
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve"' -l 'join' -d 'Link to the mesh through this node at start (repeatable).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-links' -l 'max-links' -d 'Links to other nodes at most (both directions count once).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-members' -l 'max-members' -d 'Members remembered at most, this node included.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" probe-interval' -l 'probe-interval' -d 'Seconds between pings of one linked node.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" probe-timeout' -l 'probe-timeout' -d 'Seconds a ping\'s answer may take before other nodes are asked to try.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" suspicion-min' -l 'suspicion-min' -d 'Seconds a silent node stays suspect once several others agree, before it is failed.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" suspicion-max' -l 'suspicion-max' -d 'Seconds a silent node stays suspect with one accuser.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" refused-suspicion' -l 'refused-suspicion' -d 'Seconds a node whose address refuses connections stays suspect before it is failed.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" unreachable-suspicion' -l 'unreachable-suspicion' -d 'Seconds a node stays suspect once another\'s link to it stalls (TCP resending, nothing heard, no neighbour reaching it); down to --refused-suspicion as more agree.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" gossip-interval' -l 'gossip-interval' -d 'Seconds between gossip rounds (what was learnt goes out then).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" dial-timeout' -l 'dial-timeout' -d 'Seconds a dial to another node may take, connection and upgrade together.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" link-refresh' -l 'link-refresh' -d 'Seconds between added links while the node has fewer than --max-links.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" retry-interval' -l 'retry-interval' -d 'Seconds between redials of a failed node (how split halves of a mesh find each other).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" remember-failed' -l 'remember-failed' -d 'Seconds failed and left nodes are remembered.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" sync-interval' -l 'sync-interval' -d 'Seconds between comparisons of this node\'s member table with a neighbour\'s.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" link-message-rate' -l 'link-message-rate' -d 'Messages a second one link may send; more are dropped.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" dial-rate' -l 'dial-rate' -d 'New connections a second to other nodes, at most (twice that, at least 8, at once).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-clients' -l 'max-clients' -d 'WebSocket clients at once; more are closed with 1013.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-connections' -l 'max-connections' -d 'TCP connections at once; when full, the oldest connection that has done nothing yet makes room.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-connections-per-ip' -l 'max-connections-per-ip' -d 'Connections at once from one IP address; more are dropped.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" message-rate' -l 'message-rate' -d 'Messages a second per WebSocket; excess is answered rate-limited.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" message-burst' -l 'message-burst' -d 'Messages one WebSocket may send in a burst.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" auth-timeout' -l 'auth-timeout' -d 'Seconds a WebSocket has to send auth before it is closed.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" ping-interval' -l 'ping-interval' -d 'Seconds between pings; two unanswered close the link.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-outbound-bytes' -l 'max-outbound-bytes' -d 'Bytes queued for one slow reader before it is closed with 1008.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" socket-send-buffer' -l 'socket-send-buffer' -d 'The kernel\'s send buffer per connection (SO_SNDBUF; by default WebSockets are left to autotuning and HTTP gets --max-answer-bytes).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-event-streams' -l 'max-event-streams' -d 'Event streams (/api/v1/events) at once.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-event-streams-per-ip' -l 'max-event-streams-per-ip' -d 'Event streams at once from one IP address (an IPv6 address by its /64).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" header-timeout' -l 'header-timeout' -d 'Seconds a connection has to send a complete request head.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" body-timeout' -l 'body-timeout' -d 'Seconds a request body has to arrive once its head is in.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" send-timeout' -l 'send-timeout' -d 'Seconds a client may leave an HTTP answer or event-stream data unread before it is dropped.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-answer-bytes' -l 'max-answer-bytes' -d 'Bytes of HTTP answers queued for one client before the node stops reading its requests.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-header-bytes' -l 'max-header-bytes' -d 'Largest HTTP request head (request line and headers); larger gets 431.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-body-bytes' -l 'max-body-bytes' -d 'Largest HTTP request body; larger gets 413.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-frame-bytes' -l 'max-frame-bytes' -d 'Largest WebSocket message; larger is closed with 1009.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" no-verify-announcements' -l 'no-verify-announcements' -d 'Relay announced homes without checking that an ashita node answers there (closed networks only).'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" check-timeout' -l 'check-timeout' -d 'Seconds an announcement check may take where a node answered before (half of it elsewhere).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" max-checks' -l 'max-checks' -d 'Announcement checks in flight at once.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" check-rate' -l 'check-rate' -d 'Announcement checks a second, to all places together.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" check-rate-per-host' -l 'check-rate-per-host' -d 'Announcement checks a second to one IP address (any port).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve"' -l 'allow-checks-to' -d 'Let announcement checks reach this network (CIDR, repeatable) besides the internet and the kind of network the node is on.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" version' -l 'version' -d 'Show the version.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita serve" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita connect" cacert' -l 'cacert' -d 'Trust the CA certificates in this PEM file for https:// nodes (a private CA).' -rfa '(set -l exts \'pem\' \'crt\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita connect" json' -l 'json' -d 'Print JSON on stdout (one object, or one per line for streams) instead of text for people.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita connect" timeout' -l 'timeout' -d 'Seconds to wait for a connection to the node.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita connect" node' -l 'node' -d 'This client\'s home node, announced to the nodes it joins. (default: an observer)' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita connect" no-follow' -l 'no-follow' -d 'Stay on ADDR; do not connect to announced nodes.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita connect" max-connections' -l 'max-connections' -d 'Most nodes to hold sockets to.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita connect" once' -l 'once' -d 'Print the first node\'s nodeConnected and nodeList, then exit.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita connect" version' -l 'version' -d 'Show the version.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita connect" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" cacert' -l 'cacert' -d 'Trust the CA certificates in this PEM file for https:// nodes (a private CA).' -rfa '(set -l exts \'pem\' \'crt\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" json' -l 'json' -d 'Print JSON on stdout (one object, or one per line for streams) instead of text for people.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" timeout' -l 'timeout' -d 'Seconds to wait for a connection to the node.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" clients' -l 'clients' -d 'List every client connection (operator only): id, remote address, home, since.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" all' -l 'all' -d 'Also list homes still being checked or found not to be nodes, and why (operator only).'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" node' -l 'node' -d 'Show the node itself: address, id, version, uptime, clients, peers, operators.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" mesh' -l 'mesh' -d 'List every member of the mesh between nodes that the node knows: state, id, link, last heard.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" kick' -l 'kick' -d 'Disconnect one client by its id, or every client announcing a home (operator only).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" ban' -l 'ban' -d 'With --kick: also ban it for this long (90, 90s, 10m, 2h, 7d; at most 366d), kept across restarts.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" bans' -l 'bans' -d 'List the bans in force and when each ends (operator only).'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" unban' -l 'unban' -d 'Lift the ban of a home or of an address (operator only).' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" version' -l 'version' -d 'Show the version.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita peers" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita auth" cacert' -l 'cacert' -d 'Trust the CA certificates in this PEM file for https:// nodes (a private CA).' -rfa '(set -l exts \'pem\' \'crt\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita auth" json' -l 'json' -d 'Print JSON on stdout (one object, or one per line for streams) instead of text for people.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita auth" timeout' -l 'timeout' -d 'Seconds to wait for a connection to the node.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita auth" token-file' -l 'token-file' -d 'Read the operator token from this file.' -rF
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita auth" data-dir' -l 'data-dir' -d 'Read the token from a local node\'s data directory (DIR/operator-token).' -rfa '(__ashita_complete_directories)'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita auth" logout' -l 'logout' -d 'Remove the stored credential for the node.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita auth" status' -l 'status' -d 'Say whether the stored credential for the node still works (exit 0 if it does, 77 if not).'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita auth" version' -l 'version' -d 'Show the version.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita auth" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita watch" cacert' -l 'cacert' -d 'Trust the CA certificates in this PEM file for https:// nodes (a private CA).' -rfa '(set -l exts \'pem\' \'crt\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita watch" json' -l 'json' -d 'Print JSON on stdout (one object, or one per line for streams) instead of text for people.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita watch" timeout' -l 'timeout' -d 'Seconds to wait for a connection to the node.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita watch" types' -l 'types' -d 'Only these event types, comma-separated (e.g. nodeDiscovered,nodeLeft).' -rfka '(__ashita_custom_completion ---completion watch -- --types (count (__ashita_tokens -pc)) (__ashita_tokens -tC))'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita watch" count' -l 'count' -d 'Exit after this many events.' -rfka ''
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita watch" replay' -l 'replay' -d 'First print the events the node still holds (its last 1024), then follow.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita watch" version' -l 'version' -d 'Show the version.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita watch" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ashita' -n '__ashita_should_offer_completions_for_flags_or_options "ashita help" version' -l 'version' -d 'Show the version.'
