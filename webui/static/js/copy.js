// Copy buttons for the commands of a remediation plan.

import { el } from './dom.js';

// copyable shows text in a code block with a button that copies it.
export function copyable(text, label) {
  const code = el('code', { text });
  const button = el('button', { type: 'button', class: 'copy', 'aria-label': 'Copy ' + label, text: 'Copy' });
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      // The clipboard API needs a secure context and permission; selecting
      // the text still lets the user copy it by hand.
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = 'Selected: press Ctrl+C';
    }
  });
  return el('div', { class: 'command' }, el('pre', {}, code), button);
}
