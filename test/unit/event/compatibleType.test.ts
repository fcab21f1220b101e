import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compatibleType, compatibleTypePatternProblem } from '../../../src/event/compatibleType.js';

const PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

describe('compatibleType', () => {
  test('keeps a name that already matches the type pattern', () => {
    assert.equal(compatibleType('Order_Completed'), 'Order_Completed');
    assert.equal(compatibleType('page.view:v2-b'), 'page.view:v2-b');
  });

  test('gives every name Segment, PostHog or GA4 accept a type that matches the pattern', () => {
    const names = [
      'Äpfel gekauft',
      '$pageleave',
      '_internal',
      '購入完了',
      'ログイン',
      'Заказ оформлен',
      '🎉 party',
      '',
      ' ',
      'x'.repeat(300),
      '$$',
      'a b',
    ];
    for (const name of names) {
      const type = compatibleType(name);
      assert.match(type, PATTERN, `${JSON.stringify(name)} -> ${type}`);
    }
  });

  test('stays readable where the name has latin letters', () => {
    assert.match(compatibleType('Äpfel gekauft'), /^Apfel_gekauft\.[0-9a-f]{10}$/);
    assert.match(compatibleType('$pageleave'), /^pageleave\.[0-9a-f]{10}$/);
    assert.match(compatibleType('購入'), /^event\.[0-9a-f]{10}$/);
  });

  test('keeps distinct names distinct, even when they read the same after normalising', () => {
    const names = [
      'Order Completed',
      'Order-Completed!',
      'Order  Completed',
      '購入',
      'ログイン',
      '$pageview',
      '_pageview',
      'pageview!',
      'x'.repeat(100),
      'x'.repeat(101),
    ];
    const types = names.map((name) => compatibleType(name));
    assert.equal(new Set(types).size, names.length, types.join(', '));
  });

  test('is deterministic, so a resent event gets the same type', () => {
    assert.equal(compatibleType('Äpfel gekauft'), compatibleType('Äpfel gekauft'));
  });

  test('keeps names that a custom pattern accepts', () => {
    assert.equal(compatibleType('$pageview', /^[$A-Za-z0-9_]+$/), '$pageview');
  });

  test('finds a form a stricter custom pattern accepts, still distinct per name', () => {
    const names = ['Äpfel gekauft', '$pageleave', '購入', 'Order Completed', 'Order-Completed!', 'x'.repeat(300)];
    for (const pattern of [/^[a-z0-9_]{1,40}$/, /^[A-Za-z][A-Za-z0-9_]*$/, /^[a-z][a-z0-9]{0,30}$/]) {
      const types = names.map((name) => compatibleType(name, pattern));
      for (const [i, type] of types.entries()) assert.match(type, pattern, `${names[i]} -> ${type}`);
      assert.equal(new Set(types).size, names.length, types.join(', '));
      assert.equal(compatibleTypePatternProblem(pattern), undefined);
    }
  });

  test('names a pattern that cannot hold any derived type, so the config can say so at start', () => {
    assert.equal(compatibleTypePatternProblem(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/), undefined);
    assert.match(compatibleTypePatternProblem(/^[a-z]+$/) ?? '', /refuses the type derived for "Order Completed"/);
  });
});
