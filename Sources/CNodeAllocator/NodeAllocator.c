// The node's allocator: jemalloc (Debian's libjemalloc2), linked into `ashita-node` only. glibc's malloc kept
// a node's RSS 11–22 % above where it was after a thousand clients came and left, though `malloc_trim` ran and
// heaptrack counted no more live bytes than before: free chunks scattered over pages it cannot return. jemalloc
// with these options came back within 3 % (`ashita-bench --only soak`).
//
// jemalloc reads this variable once, at its first allocation; `MALLOC_CONF` in the environment still overrides it.
// - narenas:2 — one arena per core of the machines we measure on; more arenas keep more free memory apart.
// - tcache:false — no per-thread caches of freed objects, which held freed memory away from its arena.
// - dirty_decay_ms:500, muzzy_decay_ms:0 — freed pages go back to the system half a second after they are free.
#include "NodeAllocator.h"

const char *malloc_conf = "narenas:2,tcache:false,dirty_decay_ms:500,muzzy_decay_ms:0";
