// sanitize.js — HTML mail made safe to show. The message is parsed by
// DOMParser (an inert document: nothing in it runs or loads), stripped of
// everything active, and its remote references are parked until the user
// asks for them. A message's own images (cid: URLs, RFC 2392) come from its
// parts, which the page fetched and hands in as data: URLs. What comes out is shown in an iframe sandboxed without
// scripts, under its own Content-Security-Policy (the header of the frame's
// document, and the meta element below): the sanitiser and the frame each
// stop scripts and remote loads on their own.

const DROP = new Set(['SCRIPT', 'IFRAME', 'FRAME', 'FRAMESET', 'OBJECT', 'EMBED', 'APPLET',
  'LINK', 'META', 'BASE', 'FORM', 'INPUT', 'BUTTON', 'TEXTAREA', 'SELECT', 'NOSCRIPT',
  'TEMPLATE', 'SVG', 'MATH', 'AUDIO', 'VIDEO', 'SOURCE', 'TRACK', 'PORTAL', 'DIALOG']);
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'background', 'poster',
  'srcset', 'xlink:href', 'lowsrc', 'dynsrc', 'ping', 'cite', 'longdesc', 'usemap']);
const REMOTE = /^\s*(https?:)?\/\//i;
const CSS_URL = /url\s*\(\s*(['"]?)(.*?)\1\s*\)/gi;
const CID = /^\s*cid:/i;
const CID_REFS = /cid:([^"'\s)<>]+)/gi;

// The Content-ID a cid: URL names (RFC 2392: %-encoded, without <>), or null.
function cidOf(url) {
  if (!CID.test(url)) return null;
  try { return decodeURIComponent(url.trim().slice(4)); } catch (e) { return null; }
}

// The Content-IDs an HTML body names in cid: URLs: the parts the page must
// fetch before sanitize() can show them (the sanitiser does the real matching;
// this only keeps the page from fetching parts nothing refers to).
export function cidsIn(html) {
  const out = new Set();
  for (const m of html.matchAll(CID_REFS)) {
    const id = cidOf(m[0]);
    if (id) out.add(id);
  }
  return out;
}

function frameCsp(remote) {
  return "default-src 'none'; style-src 'unsafe-inline'; img-src data:" +
    (remote ? ' https:' : '') + "; font-src data:";
}

// CSS with its remote url(...) references emptied unless allowed, and its
// cid: ones replaced by the part's data: URL.
function cleanCss(css, remote, cids, count) {
  return css.replace(CSS_URL, (all, q, url) => {
    if (/^\s*data:image\//i.test(url) || (remote && REMOTE.test(url))) return all;
    const part = cids.get(cidOf(url));
    if (part) return `url("${part}")`;
    count.blocked += REMOTE.test(url) ? 1 : 0;
    return 'url()';
  }).replace(/expression\s*\(|@import/gi, '');
}

function cleanAttrs(el, remote, cids, count) {
  for (const a of [...el.attributes]) {
    const name = a.name.toLowerCase();
    if (name.startsWith('on')) { el.removeAttribute(a.name); continue; }
    if (name === 'style') { el.setAttribute('style', cleanCss(a.value, remote, cids, count)); continue; }
    if (!URL_ATTRS.has(name)) continue;
    const v = a.value.trim();
    const isImage = el.tagName === 'IMG' && name === 'src';
    if (name === 'href' && el.tagName === 'A' && /^(https?:|mailto:|#)/i.test(v)) continue;
    if (isImage && /^data:image\//i.test(v)) continue;
    if (isImage && cids.has(cidOf(v))) { el.setAttribute('src', cids.get(cidOf(v))); continue; }
    if (isImage && REMOTE.test(v) && remote) continue;
    if (REMOTE.test(v)) count.blocked++;
    el.removeAttribute(a.name);
    if (isImage) el.setAttribute('data-blocked-src', v);
  }
}

// {html, blocked}: the document to put in the frame and how many remote
// references were held back. cids maps the Content-IDs of the message's own
// image parts to their data: URLs (any other cid: reference is dropped).
export function sanitize(html, remote, cids = new Map()) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const count = { blocked: 0 };
  for (const el of [...doc.querySelectorAll('*')]) {
    if (DROP.has(el.tagName.toUpperCase())) { el.remove(); continue; }
    if (el.tagName === 'STYLE') { el.textContent = cleanCss(el.textContent, remote, cids, count); continue; }
    cleanAttrs(el, remote, cids, count);
    if (el.tagName === 'A') { el.setAttribute('target', '_blank'); el.setAttribute('rel', 'noopener noreferrer'); }
  }
  const styles = [...doc.head.querySelectorAll('style')].map((s) => s.outerHTML).join('');
  const out = '<!doctype html><html><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${frameCsp(remote)}">` +
    `<meta name="referrer" content="no-referrer">${styles}</head>` + doc.body.outerHTML + '</html>';
  return { html: out, blocked: count.blocked };
}
