// The elements' styles, inside their shadow roots. Theme them with the
// `--tidings-*` custom properties below or with `::part(…)`; light and dark
// follow `prefers-color-scheme` unless the page sets the properties.

export const INBOX_STYLE = `
:host { display: block; font: var(--tidings-font, 14px/1.4 system-ui, sans-serif); color: var(--tidings-fg, #1b1f24);
  --_bg: var(--tidings-bg, #fff); --_muted: var(--tidings-muted, #57606a); --_accent: var(--tidings-accent, #0b57d0);
  --_border: var(--tidings-border, #d0d7de); --_unread: var(--tidings-unread, #eef4ff); --_radius: var(--tidings-radius, 10px);
  background: var(--_bg); border-radius: var(--_radius); }
@media (prefers-color-scheme: dark) {
  :host { color: var(--tidings-fg, #e6edf3); --_bg: var(--tidings-bg, #161b22); --_muted: var(--tidings-muted, #9ea7b3);
    --_accent: var(--tidings-accent, #8ab4f8); --_border: var(--tidings-border, #30363d); --_unread: var(--tidings-unread, #1c2b44); }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.header { display: flex; align-items: center; gap: 8px; padding: 12px 14px 6px; }
h2 { font-size: 1.05em; margin: 0; flex: 1; }
.badge { font-size: .75em; padding: 2px 8px; border-radius: 999px; border: 1px solid var(--_border); color: var(--_muted); }
button { font: inherit; color: inherit; background: none; border: 1px solid transparent; border-radius: 6px; padding: 4px 8px; cursor: pointer;
  min-height: 24px; min-width: 24px; }
button:hover { border-color: var(--_border); }
button:focus-visible, a:focus-visible, li:focus-visible { outline: 2px solid var(--_accent); outline-offset: 1px; }
.link { color: var(--_accent); }
[role=tablist] { display: flex; gap: 4px; padding: 0 10px; border-bottom: 1px solid var(--_border); }
[role=tab] { border-radius: 6px 6px 0 0; color: var(--_muted); }
[role=tab][aria-selected=true] { color: var(--_accent); border-bottom: 2px solid var(--_accent); }
.scroll { max-height: var(--tidings-max-height, 480px); overflow-y: auto; }
ul { list-style: none; margin: 0; padding: 0; }
li { display: flex; gap: 10px; padding: 10px 14px; border-bottom: 1px solid var(--_border); }
li.unread { background: var(--_unread); }
li img { width: 36px; height: 36px; border-radius: 50%; flex: none; object-fit: cover; }
.content { flex: 1; min-width: 0; }
.subject { font-weight: 600; margin: 0; overflow-wrap: anywhere; }
.body { margin: 2px 0 0; color: var(--_muted); overflow-wrap: anywhere; }
time { font-size: .8em; color: var(--_muted); }
.actions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.actions a { color: var(--_accent); border: 1px solid var(--_border); border-radius: 6px; padding: 2px 8px; text-decoration: none; }
.controls { display: flex; flex-direction: column; gap: 2px; }
.controls button { font-size: .8em; color: var(--_muted); }
.note { padding: 24px 14px; text-align: center; color: var(--_muted); margin: 0; }
.more { display: block; margin: 8px auto; }
`;

export const BELL_STYLE = `
:host { display: inline-block; position: relative; font: var(--tidings-font, 14px/1.4 system-ui, sans-serif); }
[hidden] { display: none !important; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.bell { position: relative; font: inherit; background: none; border: 1px solid transparent; border-radius: 50%;
  width: 40px; height: 40px; cursor: pointer; color: var(--tidings-bell-color, currentColor); }
.bell:focus-visible { outline: 2px solid var(--tidings-accent, #0b57d0); }
.bell svg { width: 22px; height: 22px; vertical-align: middle; }
.count { position: absolute; top: 2px; right: 0; min-width: 18px; padding: 0 5px; border-radius: 999px; font-size: 11px;
  line-height: 18px; background: var(--tidings-badge, #b3261e); color: #fff; }
.popover { position: absolute; right: 0; top: 46px; z-index: 1000; width: min(380px, calc(100vw - 16px));
  box-shadow: 0 8px 28px rgba(0, 0, 0, .22); border-radius: var(--tidings-radius, 10px); }
`;
