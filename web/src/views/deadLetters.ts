import { ApiError, type BeaconApi } from '../api.js';
import { h, replace, setText } from '../dom.js';
import { bytes, clock, count, short } from '../format.js';
import { parseDeadLetters, parseReplay, type DeadLettersView, type SinkView } from '../parse.js';

const SAMPLES = 20;

/**
 * One sink's dead letter: how many events wait in it, the newest samples with the reason
 * each was refused, and Replay (admin only), which sends them through the sink again and
 * says how many went and how many were refused again.
 */
export function createDeadLetterPanel(api: BeaconApi, afterReplay: () => void) {
  const title = h('h2', {});
  const summary = h('p', { class: 'dlq-summary' });
  const replayButton = h('button', { type: 'button', class: 'primary replay' }, 'Replay');
  const replayNote = h('span', { class: 'muted replay-note' });
  const result = h('p', { class: 'replay-result', role: 'status' });
  const samples = h('div', { class: 'samples' });
  const closeButton = h('button', { type: 'button', class: 'small', 'aria-label': 'Close dead letters' }, 'Close');
  const element = h(
    'section',
    { class: 'dlq', hidden: true, 'aria-live': 'polite' },
    h('header', {}, title, closeButton),
    summary,
    h('div', { class: 'dlq-actions' }, replayButton, replayNote),
    result,
    samples,
  );

  let sink: string | undefined;
  let view: DeadLettersView | undefined;
  let lastDeadLettered: number | undefined;
  let loading = false;
  let replaying = false;

  function updateButton(): void {
    const admin = api.access === 'admin';
    const waiting = view?.count ?? 0;
    replayButton.disabled = !admin || replaying || waiting === 0;
    setText(
      replayButton,
      replaying
        ? 'Replaying…'
        : waiting > 0
          ? `Replay ${count(waiting)} dead letter${waiting === 1 ? '' : 's'}`
          : 'Replay',
    );
    setText(
      replayNote,
      !admin
        ? api.access === 'read'
          ? 'Replay needs an admin token; this one can only read.'
          : 'Replay needs an admin token.'
        : waiting === 0 && view
          ? 'Nothing waits in this dead letter.'
          : '',
    );
  }
  api.onAccess(updateButton);

  async function load(): Promise<void> {
    if (!sink || loading) return;
    const name = sink;
    loading = true;
    try {
      view = parseDeadLetters(await api.get(`/api/v1/sinks/${encodeURIComponent(name)}/dead-letters?limit=${SAMPLES}`));
      if (sink !== name) return;
      setText(
        summary,
        view.count === 0
          ? 'Empty: this destination has refused nothing that still waits for a replay.'
          : `${count(view.count)} event${view.count === 1 ? '' : 's'} (${bytes(view.bytes)}) wait here. The newest ${Math.min(SAMPLES, view.samples.length)} are below with the reason each was refused.`,
      );
      renderSamples(view);
    } catch (err) {
      view = undefined;
      const e = err instanceof ApiError ? err : new ApiError(0, 'SHAPE', (err as Error).message);
      setText(
        summary,
        e.status === 404 && e.code !== 'BEACON_E_SINK_UNKNOWN'
          ? 'This Beacon does not serve dead-letter samples (GET /api/v1/sinks/{name}/dead-letters); Replay still works.'
          : `Could not read the dead letter: ${e.message}`,
      );
      replace(samples);
    } finally {
      loading = false;
      updateButton();
    }
  }

  function renderSamples(v: DeadLettersView): void {
    if (v.samples.length === 0) return replace(samples);
    const rows = v.samples.map((s) => {
      const e = s.event;
      const json = h('pre', { class: 'json' }, JSON.stringify(e, null, 2));
      return h(
        'details',
        { class: 'sample' },
        h(
          'summary',
          {},
          h('span', { class: 'ts' }, clock(s.ts)),
          h('span', { class: 'type' }, short(e.type ?? '?', 24)),
          h('span', { class: 'error-type' }, s.errorType),
          h('span', { class: 'reason' }, short(s.reason, 160)),
        ),
        json,
      );
    });
    replace(samples, ...rows);
  }

  replayButton.addEventListener('click', async () => {
    if (!sink || replaying) return;
    const name = sink;
    replaying = true;
    updateButton();
    setText(result, '');
    try {
      const r = parseReplay(
        await api.post(`/api/v1/sinks/${encodeURIComponent(name)}/replay`, { from: 'dead-letter' }),
      );
      setText(
        result,
        `Replayed ${count(r.replayed)}: ${count(r.delivered)} delivered, ${count(r.deadLettered)} refused again${r.unreadable > 0 ? `, ${count(r.unreadable)} unreadable lines kept` : ''}.`,
      );
      result.dataset.tone = r.deadLettered > 0 ? 'warn' : 'ok';
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'SHAPE', (err as Error).message);
      setText(
        result,
        e.code === 'BEACON_E_FORBIDDEN'
          ? 'Replay needs an admin token; this one can only read.'
          : `Replay failed: ${e.message}`,
      );
      result.dataset.tone = 'bad';
    } finally {
      replaying = false;
      afterReplay();
      await load();
    }
  });

  closeButton.addEventListener('click', () => {
    sink = undefined;
    element.hidden = true;
  });

  return {
    element,
    open(name: string): void {
      if (sink !== name) {
        view = undefined;
        setText(result, '');
        setText(summary, 'Loading…');
        replace(samples);
      }
      sink = name;
      lastDeadLettered = undefined;
      setText(title, `Dead letters of ${name}`);
      element.hidden = false;
      updateButton();
      void load();
      element.scrollIntoView({ block: 'nearest' });
    },
    /** Reloads the open dead letter when its sink dead-lettered more. */
    statusChanged(sinks: readonly SinkView[]): void {
      if (!sink) return;
      const s = sinks.find((x) => x.name === sink);
      if (!s) return;
      if (lastDeadLettered !== undefined && s.deadLettered !== lastDeadLettered) void load();
      lastDeadLettered = s.deadLettered;
    },
  };
}
