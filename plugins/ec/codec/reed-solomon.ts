// Reed-Solomon encode and reconstruct, byte-identical to klauspost/reedsolomon New(D, P) (the
// codec SeaweedFS uses, weed/storage/erasure_coding/ec_encoder.go): parity rows of the systematic
// encoding matrix for encode; for reconstruct, the inverse of the rows of the first D present
// shards recovers missing data, and those rows times the parity rows give missing parity from the
// same present shards (one pass over them for every missing shard).
import type { CodeKernel } from './kernel.js';
import { defaultKernel } from './kernel-select.js';
import { encodingMatrix, invert, multiply, type Matrix } from './matrix.js';

export class ReedSolomon {
  readonly dataShards: number;
  readonly parityShards: number;
  readonly totalShards: number;
  readonly matrix: Matrix;
  private readonly parityRows: Uint8Array[];
  private readonly inverses = new Map<string, Matrix>();

  constructor(dataShards: number, parityShards: number, private readonly kernel: CodeKernel = defaultKernel().kernel) {
    if (!Number.isInteger(dataShards) || !Number.isInteger(parityShards) || dataShards <= 0 || parityShards <= 0) {
      throw new Error(`invalid shard counts ${dataShards}+${parityShards}`);
    }
    if (dataShards + parityShards > 256) throw new Error('too many shards');
    this.dataShards = dataShards;
    this.parityShards = parityShards;
    this.totalShards = dataShards + parityShards;
    this.matrix = encodingMatrix(dataShards, parityShards);
    this.parityRows = this.matrix.slice(dataShards);
  }

  /** Computes shards[D..D+P) from shards[0..D) over [start, start+len) (default: all of shard 0). */
  encode(shards: Uint8Array[], start = 0, len = shards[0].length - start): void {
    if (shards.length !== this.totalShards) throw new Error(`want ${this.totalShards} shards, got ${shards.length}`);
    for (const s of shards) if (s.length < start + len) throw new Error('shard too short');
    this.kernel(this.parityRows, shards.slice(0, this.dataShards), shards.slice(this.dataShards), start, len);
  }

  /**
   * Fills the shards whose `present[i]` is false from any D present ones, over [start, start+len).
   * `dataOnly` skips missing parity (klauspost's ReconstructData). Every entry must be allocated.
   */
  reconstruct(shards: Uint8Array[], present: boolean[], start = 0, len = shards[0].length - start, dataOnly = false): void {
    const D = this.dataShards;
    if (shards.length !== this.totalShards || present.length !== this.totalShards) {
      throw new Error(`want ${this.totalShards} shards`);
    }
    const valid: number[] = [];
    for (let i = 0; i < this.totalShards && valid.length < D; i++) if (present[i]) valid.push(i);
    if (valid.length < D) throw new Error('too few shards given');
    for (const s of shards) if (s.length < start + len) throw new Error('shard too short');

    const missingData: number[] = [];
    for (let i = 0; i < D; i++) if (!present[i]) missingData.push(i);
    const missingParity: number[] = [];
    if (!dataOnly) for (let i = D; i < this.totalShards; i++) if (!present[i]) missingParity.push(i);
    if (missingData.length > 0) {
      const key = valid.join(',');
      let rows = this.inverses.get(key);
      if (!rows) {
        const inv = invert(valid.map((r) => this.matrix[r]));
        // A parity shard is its encoding row times the data, and the data is the inverse times
        // the valid shards: its row over the valid shards is the product.
        rows = [...inv, ...multiply(this.parityRows, inv)];
        this.inverses.set(key, rows);
      }
      // Every missing shard, data and parity, in one pass over the valid ones.
      const missing = [...missingData, ...missingParity];
      this.kernel(
        missing.map((i) => rows[i]),
        valid.map((i) => shards[i]),
        missing.map((i) => shards[i]),
        start,
        len,
      );
      return;
    }
    if (missingParity.length > 0) {
      this.kernel(
        missingParity.map((i) => this.matrix[i]),
        shards.slice(0, D),
        missingParity.map((i) => shards[i]),
        start,
        len,
      );
    }
  }
}
