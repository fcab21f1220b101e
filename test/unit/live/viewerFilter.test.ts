import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matches, parseViewerFilter } from '../../../src/live/viewerFilter.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';

const filter = (q: string) => parseViewerFilter(new URLSearchParams(q));
const event = (props: Record<string, unknown>): TrackedEvent =>
  ({ id: 'e1', type: 'signup', ts: 1, props, meta: {} }) as TrackedEvent;

describe('the /live content filter', () => {
  it('matches a where name only against the props an event has, never inherited ones', () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      assert.equal(matches(filter(`where=${name}`), event({ plan: 'pro' })), false, name);
    }
    assert.equal(
      matches(filter('where=toString'), event({ toString: 'x' })),
      true,
      'an event that has the prop matches',
    );
    assert.equal(matches(filter('where=constructor=Object'), event({})), false);
  });

  it('matches present props and values as before', () => {
    assert.equal(matches(filter('where=plan=pro,country'), event({ plan: 'pro', country: 'DE' })), true);
    assert.equal(matches(filter('where=plan=pro'), event({ plan: 'free' })), false);
  });
});
