import type { BeaconApi } from './api.js';
import { h } from './dom.js';

/**
 * Asks for an API token when Beacon answers 401. The token is kept in this tab only
 * (sessionStorage) and sent as a Bearer header and as `?token=` on the live stream.
 */
export function createTokenDialog(
  api: BeaconApi,
  onToken: () => void,
): { open(reason: string): void; element: HTMLDialogElement } {
  const reasonText = h('p', { class: 'dialog-reason' });
  const input = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'paste the token here',
    'aria-label': 'API token',
  });
  const form = h(
    'form',
    { method: 'dialog' },
    h('h2', {}, 'This Beacon needs an access token'),
    reasonText,
    h(
      'p',
      { class: 'muted' },
      'Ask whoever runs Beacon for a token (the ',
      h('code', {}, 'api.tokens'),
      ' list in its config). A read token shows events and destinations; an admin token can also see the config and replay dead letters. It stays in this browser tab only.',
    ),
    input,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Use token')),
  );
  const dialog = h('dialog', { class: 'token-dialog' }, form);
  form.addEventListener('submit', (e) => {
    const token = input.value.trim();
    if (!token) {
      e.preventDefault();
      input.focus();
      return;
    }
    api.setToken(token);
    input.value = '';
    onToken();
  });
  return {
    element: dialog,
    open(reason: string) {
      // With no token yet, being asked is expected: only a refused token needs the reason.
      reasonText.textContent = api.token ? `The token was refused: ${reason}` : '';
      if (!dialog.open) dialog.showModal();
      input.focus();
    },
  };
}
