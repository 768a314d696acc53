export interface Page<T> {
  readonly items: T[];
  /** The last item's sort key when more items follow. */
  readonly next: string | undefined;
}
