import { h } from '../dom.js';
import { clockMs, count, short } from '../format.js';
import type { LiveEvent } from '../parse.js';

export type LiveItem = { kind: 'event'; event: LiveEvent } | { kind: 'dropped'; count: number };

/** Height of one row in CSS pixels; rows are positioned by index, so it is fixed (see .row in styles.css). */
export const ROW_HEIGHT = 28;
/** Rows drawn above and below the visible ones, so a quick scroll shows no gap. */
const OVERSCAN = 8;

/**
 * The live list, newest first, holding at most `capacity` items: a virtual list. Only the
 * rows in view (plus a few) exist in the DOM and are reused as the list moves, so the cost of
 * an update does not depend on how many items are kept: at 1,000 events/s an update touches
 * about 40 rows, not 500.
 *
 * A reader who scrolled down keeps looking at the same rows while new ones arrive on top
 * (the scroll position moves with them), until those rows fall off the end.
 */
export class EventList {
  readonly element: HTMLElement;
  private readonly spacer: HTMLElement;
  private items: LiveItem[] = [];
  private slots: { el: HTMLElement; item: LiveItem | undefined; index: number }[] = [];
  private selected: LiveItem | undefined;

  constructor(
    private readonly capacity: number,
    private readonly onSelect: (e: LiveEvent) => void,
  ) {
    this.spacer = h('div', { class: 'events-spacer' });
    this.element = h(
      'div',
      { class: 'events', role: 'list', 'aria-label': 'Live events, newest first', tabindex: 0 },
      this.spacer,
    );
    this.element.addEventListener('scroll', () => this.render());
    this.element.addEventListener('click', (ev) => this.pick((ev.target as Element).closest('.row')));
    this.element.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') this.pick((ev.target as Element).closest('.row'));
    });
    new ResizeObserver(() => this.render()).observe(this.element);
  }

  get size(): number {
    return this.items.length;
  }

  /** Adds items (oldest first, as they arrived) on top, dropping the oldest past capacity. */
  add(arrived: readonly LiveItem[]): void {
    if (arrived.length === 0) return;
    const fresh = arrived.slice(-this.capacity).reverse();
    const scrolled = this.element.scrollTop > 0;
    this.items = fresh.concat(
      this.items.length + fresh.length > this.capacity ? this.items.slice(0, this.capacity - fresh.length) : this.items,
    );
    this.spacer.style.height = `${this.items.length * ROW_HEIGHT}px`;
    this.element.dataset.count = String(this.items.length);
    // Keep what the reader looks at in place; at the top, show the newest.
    if (scrolled) this.element.scrollTop += fresh.length * ROW_HEIGHT;
    this.render();
  }

  clear(): void {
    this.items = [];
    this.selected = undefined;
    this.spacer.style.height = '0px';
    this.element.dataset.count = '0';
    this.element.scrollTop = 0;
    this.render();
  }

  private render(): void {
    const viewport = this.element.clientHeight;
    const wanted = Math.ceil(viewport / ROW_HEIGHT) + 2 * OVERSCAN;
    while (this.slots.length < wanted) {
      const el = h('div', { class: 'row', role: 'listitem', tabindex: -1 });
      this.spacer.append(el);
      this.slots.push({ el, item: undefined, index: -1 });
    }
    const first = Math.max(0, Math.floor(this.element.scrollTop / ROW_HEIGHT) - OVERSCAN);
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i]!;
      const index = first + i;
      const item = this.items[index];
      if (!item) {
        if (slot.item !== undefined || !slot.el.hidden) {
          slot.el.hidden = true;
          slot.item = undefined;
        }
        continue;
      }
      if (slot.index !== index) {
        slot.el.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
        slot.index = index;
      }
      if (slot.item !== item) {
        fill(slot.el, item);
        slot.item = item;
      }
      slot.el.hidden = false;
      slot.el.classList.toggle('selected', item === this.selected);
    }
  }

  private pick(el: Element | null): void {
    const slot = this.slots.find((s) => s.el === el);
    const item = slot?.item;
    if (!item || item.kind !== 'event') return;
    this.selected = item;
    this.render();
    this.onSelect(item.event);
  }
}

/** Writes one item into a row element (reused: every part is set, none is left from before). */
function fill(el: HTMLElement, item: LiveItem): void {
  if (item.kind === 'dropped') {
    el.className = 'row notice';
    el.replaceChildren(`${count(item.count)} events skipped here: this page fell behind the stream`);
    return;
  }
  const e = item.event;
  el.className = 'row';
  const flags = h('span', { class: 'flags' });
  // Where the event came from: Beacon's own endpoints (http), a queue, or a compatible protocol (posthog, segment, ...).
  const source = typeof e.meta.source === 'string' ? e.meta.source.slice(0, 24) : undefined;
  if (source !== undefined)
    flags.append(h('span', { class: 'flag source', 'data-source': source, title: `received by ${source}` }, source));
  if (e.meta.bot === true) flags.append(h('span', { class: 'flag bot' }, 'bot'));
  if (e.meta.duplicate === true) flags.append(h('span', { class: 'flag dup' }, 'duplicate'));
  const geo = e.meta.geo as { country?: unknown } | undefined;
  if (geo && typeof geo.country === 'string') flags.append(h('span', { class: 'flag geo' }, geo.country));
  const props = Object.entries(e.props)
    .slice(0, 6)
    .map(([k, v]) => `${k}=${short(v, 32)}`)
    .join('  ');
  el.replaceChildren(
    h('span', { class: 'ts' }, clockMs(e.ts)),
    h('span', { class: 'type' }, e.type),
    h('span', { class: 'props' }, props || '(no props)'),
    flags,
  );
}
