/** A sibling of the TypeScript functions module, imported as `./lib.js`. */
export interface Sale {
  readonly amount: number;
}

export const total = (sales: readonly Sale[]): number => sales.reduce((sum, sale) => sum + sale.amount, 0);
