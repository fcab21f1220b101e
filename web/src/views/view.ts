/** One page of the app (Live, Destinations, Throughput, Config): shown by the nav, built once. */
export interface View {
  readonly id: string;
  readonly title: string;
  readonly element: HTMLElement;
  /** The view became visible: start streams and timers it needs. */
  show(): void;
  /** The view was hidden: stop what costs the server or the tab. */
  hide(): void;
}
