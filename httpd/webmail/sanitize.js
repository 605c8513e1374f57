// sanitize.js — HTML mail made safe to show. The message is parsed by
// DOMParser (an inert document: nothing in it runs or loads), stripped of
// everything active, and its remote references are parked until the user
// asks for them. What comes out is shown in an iframe sandboxed without
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

function frameCsp(remote) {
  return "default-src 'none'; style-src 'unsafe-inline'; img-src data:" +
    (remote ? ' https:' : '') + "; font-src data:";
}

// CSS with its remote url(...) references emptied unless allowed.
function cleanCss(css, remote, count) {
  return css.replace(CSS_URL, (all, q, url) => {
    if (/^\s*data:image\//i.test(url) || (remote && REMOTE.test(url))) return all;
    count.blocked += REMOTE.test(url) ? 1 : 0;
    return 'url()';
  }).replace(/expression\s*\(|@import/gi, '');
}

function cleanAttrs(el, remote, count) {
  for (const a of [...el.attributes]) {
    const name = a.name.toLowerCase();
    if (name.startsWith('on')) { el.removeAttribute(a.name); continue; }
    if (name === 'style') { el.setAttribute('style', cleanCss(a.value, remote, count)); continue; }
    if (!URL_ATTRS.has(name)) continue;
    const v = a.value.trim();
    const isImage = el.tagName === 'IMG' && name === 'src';
    if (name === 'href' && el.tagName === 'A' && /^(https?:|mailto:|#)/i.test(v)) continue;
    if (isImage && /^data:image\//i.test(v)) continue;
    if (isImage && REMOTE.test(v) && remote) continue;
    if (REMOTE.test(v)) count.blocked++;
    el.removeAttribute(a.name);
    if (isImage) el.setAttribute('data-blocked-src', v);
  }
}

// {html, blocked}: the document to put in the frame and how many remote
// references were held back.
export function sanitize(html, remote) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const count = { blocked: 0 };
  for (const el of [...doc.querySelectorAll('*')]) {
    if (DROP.has(el.tagName.toUpperCase())) { el.remove(); continue; }
    if (el.tagName === 'STYLE') { el.textContent = cleanCss(el.textContent, remote, count); continue; }
    cleanAttrs(el, remote, count);
    if (el.tagName === 'A') { el.setAttribute('target', '_blank'); el.setAttribute('rel', 'noopener noreferrer'); }
  }
  const styles = [...doc.head.querySelectorAll('style')].map((s) => s.outerHTML).join('');
  const out = '<!doctype html><html><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${frameCsp(remote)}">` +
    `<meta name="referrer" content="no-referrer">${styles}</head>` + doc.body.outerHTML + '</html>';
  return { html: out, blocked: count.blocked };
}
