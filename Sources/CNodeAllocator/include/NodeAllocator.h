#ifndef ASHITA_NODE_ALLOCATOR_H
#define ASHITA_NODE_ALLOCATOR_H

/// The options `ashita-node` gives jemalloc, which reads them by this name (see NodeAllocator.c).
extern const char *malloc_conf;

#endif
