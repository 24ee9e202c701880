import DOMPurify from 'dompurify';
import { Marked } from 'marked';
import { h } from './dom.js';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);

/**
 * Model output is Markdown, never HTML: raw HTML shows as the text it is, and images as their alt
 * text (an image would load remote content, or a same-origin URL that starts work).
 */
const markdown = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html: ({ text }) => escapeHtml(text),
    image: ({ text }) => escapeHtml(text),
  },
});

// Links open elsewhere, without this page as their opener or referrer.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

/** Whatever DOMPurify lets through as well: only text markup, only absolute http(s) and mailto links. */
const policy = {
  RETURN_DOM_FRAGMENT: true as const,
  ALLOWED_TAGS: [
    'a',
    'b',
    'blockquote',
    'br',
    'code',
    'del',
    'em',
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'hr',
    'i',
    'input',
    'li',
    'ol',
    'p',
    'pre',
    'strong',
    'table',
    'tbody',
    'td',
    'th',
    'thead',
    'tr',
    'ul',
  ],
  ALLOWED_ATTR: ['href', 'title', 'checked', 'disabled', 'type', 'align', 'start'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
};

/** A copy button for each code block, and a scroll box for each table, so neither widens the page. */
function decorate(fragment: DocumentFragment) {
  for (const pre of fragment.querySelectorAll('pre')) {
    const copy = h('button', { type: 'button', class: 'copy', 'aria-label': 'Copy code' }, 'Copy');
    copy.addEventListener('click', async () => {
      await navigator.clipboard.writeText(pre.textContent ?? '');
      copy.textContent = 'Copied';
    });
    const box = h('div', { class: 'code' });
    pre.replaceWith(box);
    box.append(copy, pre);
  }
  for (const table of fragment.querySelectorAll('table')) {
    const box = h('div', { class: 'table' });
    table.replaceWith(box);
    box.append(table);
  }
  for (const input of fragment.querySelectorAll('input')) {
    if (input.type !== 'checkbox') input.remove();
    else input.disabled = true;
  }
}

/** Markdown as safe DOM: it can never run script, load anything, or look like the page's own controls. */
export function renderMarkdown(text: string): DocumentFragment {
  const fragment = DOMPurify.sanitize(markdown.parse(text) as string, policy);
  decorate(fragment);
  return fragment;
}
