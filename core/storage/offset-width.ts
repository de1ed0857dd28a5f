/** Width in bytes of a needle offset in .idx/.ecx entries: 4 (standard Go build) or 5 (5BytesOffset). */
export type OffsetWidth = 4 | 5;
