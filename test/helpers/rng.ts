// A seeded xorshift32 generator: tests that draw random ids or sizes repeat exactly from their seed.

/** Numbers in [0, 1) from `seed` (0 is taken as 1, which xorshift needs). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}
