/** Turns `limit + 1` fetched rows into a page: the extra row only tells that there is more. */
export function toPage<Row extends { id: string }, Out>(
  rows: Row[],
  limit: number,
  map: (row: Row) => Out,
): { items: Out[]; next_cursor: string | null } {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  return {
    items: pageRows.map(map),
    next_cursor: more ? pageRows[pageRows.length - 1]!.id : null,
  };
}
