// What every page of the app is.

/** A page: its element, a refresh that the app calls every couple of seconds, and its end. */
export interface View {
  readonly root: HTMLElement;
  poll(): Promise<void>;
  destroy(): void;
}
