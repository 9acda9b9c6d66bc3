/* bi_blake3.c — BLAKE3 from the specification (see bi_blake3.h).
**
** Input is split into 1024-byte chunks of 64-byte blocks. Each chunk is
** compressed block by block from the key (the IV in hash mode), with
** CHUNK_START on its first block and CHUNK_END on its last; the chunk
** counter is the chunk's index. Chunk chaining values are merged into a
** left-balanced binary tree with PARENT compressions; a stack of subtree
** chaining values holds the completed left subtrees, merged whenever the
** number of chunks so far is even at that level. The root node is
** compressed again with ROOT, and its first 32 output bytes are the hash. */
#include "vm/bi_blake3.h"

#include <string.h>

enum {
  CHUNK_START = 1,
  CHUNK_END = 2,
  PARENT = 4,
  ROOT = 8,
  BLOCK_LEN = 64,
  CHUNK_LEN = 1024,
};

static const uint32_t IV[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                               0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

static const uint8_t PERMUTATION[16] = {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void g(uint32_t s[16], int a, int b, int c, int d, uint32_t mx, uint32_t my) {
  s[a] = s[a] + s[b] + mx;
  s[d] = rotr(s[d] ^ s[a], 16);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 12);
  s[a] = s[a] + s[b] + my;
  s[d] = rotr(s[d] ^ s[a], 8);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 7);
}

static void round_fn(uint32_t s[16], const uint32_t m[16]) {
  g(s, 0, 4, 8, 12, m[0], m[1]); /* columns */
  g(s, 1, 5, 9, 13, m[2], m[3]);
  g(s, 2, 6, 10, 14, m[4], m[5]);
  g(s, 3, 7, 11, 15, m[6], m[7]);
  g(s, 0, 5, 10, 15, m[8], m[9]); /* diagonals */
  g(s, 1, 6, 11, 12, m[10], m[11]);
  g(s, 2, 7, 8, 13, m[12], m[13]);
  g(s, 3, 4, 9, 14, m[14], m[15]);
}

/* The compression function: writes 16 output words. */
static void compress(const uint32_t cv[8], const uint32_t block[16], uint64_t counter,
                     uint32_t block_len, uint32_t flags, uint32_t out[16]) {
  uint32_t s[16] = {cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
                    IV[0], IV[1], IV[2], IV[3], (uint32_t)counter, (uint32_t)(counter >> 32),
                    block_len, flags};
  uint32_t m[16], t[16];
  memcpy(m, block, sizeof m);
  for (int r = 0; r < 7; r++) {
    round_fn(s, m);
    if (r == 6) break;
    for (int i = 0; i < 16; i++) t[i] = m[PERMUTATION[i]];
    memcpy(m, t, sizeof m);
  }
  for (int i = 0; i < 8; i++) {
    out[i] = s[i] ^ s[i + 8];
    out[i + 8] = s[i + 8] ^ cv[i];
  }
}

static void load_block(const uint8_t *p, size_t n, uint32_t words[16]) {
  uint8_t buf[BLOCK_LEN] = {0};
  memcpy(buf, p, n);
  for (int i = 0; i < 16; i++)
    words[i] = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 |
               (uint32_t)buf[4 * i + 2] << 16 | (uint32_t)buf[4 * i + 3] << 24;
}

/* A node whose compression is still to be done: the root may need ROOT. */
typedef struct node {
  uint32_t cv[8];
  uint32_t block[16];
  uint64_t counter;
  uint32_t block_len, flags;
} node_t;

static void node_cv(const node_t *n, uint32_t out[8]) {
  uint32_t w[16];
  compress(n->cv, n->block, n->counter, n->block_len, n->flags, w);
  memcpy(out, w, 8 * sizeof *out);
}

/* Compresses every block of a chunk but the last; returns the last as a node. */
static node_t chunk_node(const uint8_t *p, size_t n, uint64_t index) {
  node_t nd;
  memcpy(nd.cv, IV, sizeof nd.cv);
  uint32_t start = CHUNK_START;
  while (n > BLOCK_LEN) {
    uint32_t words[16], out[16];
    load_block(p, BLOCK_LEN, words);
    compress(nd.cv, words, index, BLOCK_LEN, start, out);
    memcpy(nd.cv, out, sizeof nd.cv);
    start = 0;
    p += BLOCK_LEN;
    n -= BLOCK_LEN;
  }
  load_block(p, n, nd.block);
  nd.counter = index;
  nd.block_len = (uint32_t)n;
  nd.flags = start | CHUNK_END;
  return nd;
}

static node_t parent_node(const uint32_t left[8], const uint32_t right[8]) {
  node_t nd;
  memcpy(nd.cv, IV, sizeof nd.cv);
  memcpy(nd.block, left, 8 * sizeof *left);
  memcpy(nd.block + 8, right, 8 * sizeof *right);
  nd.counter = 0;
  nd.block_len = BLOCK_LEN;
  nd.flags = PARENT;
  return nd;
}

void hk_blake3(const void *data, size_t len, uint8_t out[32]) {
  const uint8_t *p = data;
  uint32_t stack[64][8]; /* one entry per tree level: 2^64 chunks at most */
  int depth = 0;
  uint64_t chunks = 0;
  /* Every chunk but the last is final once the next one starts. */
  while (len > CHUNK_LEN) {
    node_t nd = chunk_node(p, CHUNK_LEN, chunks);
    uint32_t cv[8];
    node_cv(&nd, cv);
    chunks++;
    for (uint64_t total = chunks; (total & 1) == 0; total >>= 1) {
      node_t parent = parent_node(stack[--depth], cv);
      node_cv(&parent, cv);
    }
    memcpy(stack[depth++], cv, sizeof cv);
    p += CHUNK_LEN;
    len -= CHUNK_LEN;
  }
  node_t nd = chunk_node(p, len, chunks);
  while (depth > 0) {
    uint32_t cv[8];
    node_cv(&nd, cv);
    nd = parent_node(stack[--depth], cv);
  }
  uint32_t w[16];
  compress(nd.cv, nd.block, nd.counter, nd.block_len, nd.flags | ROOT, w);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)w[i];
    out[4 * i + 1] = (uint8_t)(w[i] >> 8);
    out[4 * i + 2] = (uint8_t)(w[i] >> 16);
    out[4 * i + 3] = (uint8_t)(w[i] >> 24);
  }
}
