// app.js — the webmail page: login, folders, the message list (threads
// collapsed) with paging, reading with the conversation, flags, move/delete,
// search, compose (draft, send, reply, reply-all, forward, attachments) and
// live updates, over JMAP only (jmap.js). Every piece of mail reaches the page as
// text (textContent), never as markup; HTML bodies go to a sandboxed frame
// (sanitize.js).
import { Jmap, AuthError } from './jmap.js';
import { sanitize, cidsIn } from './sanitize.js';
import { searchFilter } from './search.js';

const PAGE = 25;
// A message's own images shown inline (cid:): each part at most, and all of
// one message together; larger ones stay attachments only.
const INLINE_PART_MAX = 4 << 20;
const INLINE_TOTAL_MAX = 16 << 20;
const IMAGE_TYPE = /^image\/[a-z0-9.+-]+$/;
// Compose saves the draft this long after the last change.
const AUTOSAVE_MS = 1500;
const ROLE_ORDER = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];
const $ = (id) => document.getElementById(id);

const st = {
  jmap: null, mailboxes: [], current: null, search: null, position: 0, total: 0,
  ids: [], open: null, remote: false, events: null, me: [], sort: 'receivedAt:desc',
};

function status(text) { $('status').textContent = text || ''; }

function el(tag, props = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e[k] = v;
  }
  for (const k of kids) e.append(k);
  return e;
}

function fail(err) {
  if (err instanceof AuthError) { showLogin('Your session has ended; please log in again.'); return; }
  status(`Error: ${err.message}`);
}

// ---- login and logout ----

async function postJson(path, body, csrf) {
  const headers = { 'Content-Type': 'application/json' };
  if (csrf) headers['X-CSRF-Token'] = csrf;
  const r = await fetch(path, { method: 'POST', credentials: 'same-origin', headers, body: JSON.stringify(body) });
  let data = {};
  try { data = await r.json(); } catch (e) { /* an empty or non-JSON answer */ }
  return { status: r.status, data };
}

function showLogin(message) {
  if (st.events) { st.events.close(); st.events = null; }
  delete $('app').dataset.live;
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('login-pass').value = '';
  $('login-user').focus();
}

async function onLogin(ev) {
  ev.preventDefault();
  $('login-error').textContent = '';
  const r = await postJson('/webmail/login', { username: $('login-user').value, password: $('login-pass').value });
  if (r.status !== 200) {
    $('login-error').textContent = r.data.detail || `Login failed (HTTP ${r.status})`;
    return;
  }
  await startApp(r.data);
}

async function onLogout() {
  await postJson('/webmail/logout', {}, st.jmap && st.jmap.csrf);
  st.jmap = null;
  showLogin('You have logged out.');
}

async function startApp(who) {
  st.jmap = new Jmap(who.csrf);
  await st.jmap.start();
  $('login').hidden = true;
  $('app').hidden = false;
  $('whoami').textContent = who.user;
  await loadIdentities(who.user);
  await loadMailboxes();
  const inbox = st.mailboxes.find((m) => m.role === 'inbox') || st.mailboxes[0];
  if (inbox) await selectMailbox(inbox.id);
  listen();
}

// The user's own addresses (login and identities): reply-all leaves them out.
async function loadIdentities(user) {
  st.me = [user.toLowerCase()];
  st.identities = [];
  if (!st.jmap.canSubmit) return;
  const r = await st.jmap.call([['Identity/get', { accountId: st.jmap.accountId }, 'i']]);
  st.identities = r.i.list;
  for (const i of st.identities) if (i.email) st.me.push(i.email.toLowerCase());
}

// ---- folders ----

function mailboxRank(m) {
  const i = ROLE_ORDER.indexOf(m.role);
  return i < 0 ? ROLE_ORDER.length : i;
}

async function loadMailboxes() {
  const r = await st.jmap.call([['Mailbox/get', { accountId: st.jmap.accountId,
    properties: ['name', 'role', 'parentId', 'unreadEmails', 'totalEmails', 'sortOrder'] }, 'm']]);
  st.mailboxes = r.m.list.sort((a, b) => mailboxRank(a) - mailboxRank(b) || a.name.localeCompare(b.name));
  renderMailboxes();
}

function renderMailboxes() {
  const nav = $('mailboxes');
  nav.replaceChildren();
  const move = $('act-move');
  move.replaceChildren(el('option', { value: '', text: '—' }));
  for (const m of st.mailboxes) {
    const b = el('button', { type: 'button', class: m.id === st.current && !st.search ? 'current' : '' },
      el('span', { class: 'name', text: m.name }),
      el('span', { class: 'count', text: m.unreadEmails ? String(m.unreadEmails) : '' }));
    b.dataset.id = m.id;
    b.dataset.role = m.role || '';
    b.addEventListener('click', () => selectMailbox(m.id).catch(fail));
    nav.append(b);
    const o = el('option', { value: m.id, text: m.name });
    move.append(o);
  }
}

function mailboxByRole(role) { return st.mailboxes.find((m) => m.role === role); }

async function selectMailbox(id) {
  st.current = id;
  st.search = null;
  st.position = 0;
  $('search-text').value = '';
  renderMailboxes();
  await loadList();
}

// ---- the message list ----

function listFilter() {
  if (st.search) return st.searchFilter;
  return { inMailbox: st.current };
}

async function loadList() {
  const r = await st.jmap.call([
    ['Email/query', { accountId: st.jmap.accountId, filter: listFilter(),
      sort: sortOrder(), collapseThreads: true,
      position: st.position, limit: PAGE, calculateTotal: true }, 'q'],
    ['Email/get', { accountId: st.jmap.accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' },
      properties: ['threadId', 'mailboxIds', 'keywords', 'from', 'subject', 'receivedAt', 'preview', 'hasAttachment'] }, 'g'],
    ['Thread/get', { accountId: st.jmap.accountId,
      '#ids': { resultOf: 'g', name: 'Email/get', path: '/list/*/threadId' } }, 't'],
  ]);
  st.total = r.q.total;
  st.ids = r.q.ids;
  const byId = new Map(r.g.list.map((e) => [e.id, e]));
  const sizes = new Map(r.t.list.map((t) => [t.id, t.emailIds.length]));
  renderList(st.ids.map((id) => byId.get(id)).filter(Boolean), sizes);
}

// The list's order (the #sort choice), newest first among equals.
function sortOrder() {
  const [property, dir] = st.sort.split(':');
  const order = [{ property, isAscending: dir === 'asc' }];
  if (property !== 'receivedAt') order.push({ property: 'receivedAt', isAscending: false });
  return order;
}

function addressText(list) {
  return (list || []).map((a) => a.name || a.email).join(', ');
}

function dateText(iso) {
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString();
}

function renderList(emails, sizes) {
  const mb = st.mailboxes.find((m) => m.id === st.current);
  $('list-title').textContent = st.search ? `Search: ${st.search}` : (mb ? mb.name : '');
  $('empty-trash').hidden = Boolean(st.search) || !mb || mb.role !== 'trash' || !st.total;
  const ul = $('messages');
  ul.replaceChildren();
  for (const e of emails) {
    const kw = e.keywords || {};
    const li = el('li', { tabIndex: 0, class: (kw.$seen ? '' : 'unread') + (st.open === e.id ? ' current' : '') },
      el('div', { class: 'from' }, el('span', { text: addressText(e.from) || '(no sender)' }),
        el('span', { text: (kw.$flagged ? '★ ' : '') + dateText(e.receivedAt) })),
      el('div', { class: 'subject', text: e.subject || '(no subject)' }),
      el('div', { class: 'thread-size', text: sizes.get(e.threadId) > 1 ? `${sizes.get(e.threadId)} messages` : '' }),
      el('div', { class: 'preview', text: e.preview || '' }));
    li.dataset.id = e.id;
    li.addEventListener('click', () => openEmail(e.id).catch(fail));
    li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openEmail(e.id).catch(fail); });
    ul.append(li);
  }
  const last = Math.min(st.position + emails.length, st.total);
  $('page-info').textContent = st.total ? `${st.position + 1}–${last} of ${st.total}` : 'No messages';
  $('page-prev').disabled = st.position === 0;
  $('page-next').disabled = st.position + PAGE >= st.total;
}

async function page(delta) {
  st.position = Math.max(0, st.position + delta * PAGE);
  await loadList();
}

// ---- reading ----

const READ_PROPS = ['threadId', 'mailboxIds', 'keywords', 'from', 'to', 'cc', 'replyTo', 'subject',
  'receivedAt', 'messageId', 'inReplyTo', 'references', 'textBody', 'htmlBody', 'attachments', 'bodyValues'];

// The message, and the other messages of its thread (RFC 8621 3) in one
// request by result references.
async function openEmail(id) {
  const r = await st.jmap.call([
    ['Email/get', { accountId: st.jmap.accountId, ids: [id], properties: READ_PROPS,
      fetchTextBodyValues: true, fetchHTMLBodyValues: true, maxBodyValueBytes: 1 << 20 }, 'g'],
    ['Thread/get', { accountId: st.jmap.accountId,
      '#ids': { resultOf: 'g', name: 'Email/get', path: '/list/*/threadId' } }, 't'],
    ['Email/get', { accountId: st.jmap.accountId,
      '#ids': { resultOf: 't', name: 'Thread/get', path: '/list/*/emailIds' },
      properties: ['from', 'subject', 'receivedAt', 'preview', 'keywords'] }, 'tg'],
  ]);
  const e = r.g.list[0];
  if (!e) { status('That message is gone.'); return; }
  st.open = id;
  st.email = e;
  st.thread = r.tg.list;
  st.remote = false;
  st.inline = null;
  $('compose').hidden = true;
  $('reader').hidden = false;
  $('app').classList.add('reading');
  await renderEmail();
  if (!(e.keywords || {}).$seen) await setKeyword('$seen', true);
  else for (const li of $('messages').children) li.classList.toggle('current', li.dataset.id === id);
}

function renderHeaders(e) {
  const dl = $('msg-headers');
  dl.replaceChildren();
  const rows = [['From', addressText(e.from)], ['To', addressText(e.to)], ['Cc', addressText(e.cc)],
    ['Date', new Date(e.receivedAt).toLocaleString()]];
  for (const [k, v] of rows) if (v) dl.append(el('dt', { text: k }), el('dd', { text: v }));
}

function htmlPart(e) {
  const p = (e.htmlBody || []).find((x) => x.type === 'text/html');
  return p && e.bodyValues[p.partId] ? e.bodyValues[p.partId].value : null;
}

// The text of the message; an HTML part (a message without plain text) as
// the text an inert parse of it gives.
function textOf(e) {
  return (e.textBody || []).map((p) => {
    const v = (e.bodyValues[p.partId] || {}).value || '';
    return p.type === 'text/html' ? new DOMParser().parseFromString(v, 'text/html').body.textContent : v;
  }).join('\n');
}

// A blob as a data: URL of the given type (the frame's policy allows images
// from data: only, so the page hands the frame the bytes themselves).
function dataUrl(blob, type) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(new Blob([blob], { type }));
  });
}

// The image parts the HTML names by cid:, fetched from the message itself
// (JMAP download) as Content-ID -> data: URL; bounded in size, and only
// image types (a part typed otherwise is not shown as an image).
async function inlineImages(e, html) {
  const wanted = cidsIn(html);
  const out = new Map();
  let total = 0;
  for (const a of e.attachments || []) {
    const type = (a.type || '').toLowerCase();
    if (!a.cid || !wanted.has(a.cid) || out.has(a.cid) || !IMAGE_TYPE.test(type)) continue;
    if (a.size > INLINE_PART_MAX || total + a.size > INLINE_TOTAL_MAX) continue;
    const r = await fetch(st.jmap.downloadUrl(a.blobId, a.name, type), { credentials: 'same-origin' });
    if (!r.ok) continue;
    out.set(a.cid, await dataUrl(await r.blob(), type));
    total += a.size;
  }
  return out;
}

async function renderBody(e) {
  const html = htmlPart(e);
  const frame = $('msg-html');
  $('msg-text').hidden = html !== null;
  frame.hidden = html === null;
  $('msg-images').hidden = true;
  if (html === null) {
    frame.onload = null;
    $('msg-text').textContent = textOf(e);
    return;
  }
  const known = st.inline && st.inline.id === e.id;
  const images = known ? st.inline.images : await inlineImages(e, html);
  if (st.email !== e) return; // another message was opened meanwhile
  st.inline = { id: e.id, images };
  const out = sanitize(html, st.remote, images);
  showHtml(frame, out.html, st.remote);
  $('msg-images').hidden = out.blocked === 0 || st.remote;
}

// The frame is a blank document httpd serves with the frame's own policy
// (frame.html: images from data: only; frame-images.html: and https:, once
// the user asks), so the page's policy needs neither inline styles nor remote
// images (a srcdoc frame would inherit the page's). The page writes the
// sanitised message into it once loaded: the sandbox allows the same origin
// for that, never scripts. The handler is cleared before writing (closing
// the document fires load again) and replaced by a newer message's.
function showHtml(frame, html, images) {
  frame.onload = () => {
    frame.onload = null;
    const doc = frame.contentDocument;
    doc.open();
    doc.write(html);
    doc.close();
  };
  frame.src = images ? 'frame-images.html' : 'frame.html';
}

// The conversation, oldest first, when there is more than this message.
function renderThread() {
  const ol = $('msg-thread');
  ol.replaceChildren();
  ol.hidden = st.thread.length < 2;
  for (const t of st.thread) {
    const li = el('li', { tabIndex: 0, class: t.id === st.open ? 'current' : '' },
      el('span', { class: 'from', text: addressText(t.from) || '(no sender)' }),
      el('span', { class: 'date', text: ` ${dateText(t.receivedAt)} ` }),
      el('span', { class: 'preview', text: t.preview || '' }));
    li.dataset.id = t.id;
    if (t.id !== st.open) {
      li.addEventListener('click', () => openEmail(t.id).catch(fail));
      li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openEmail(t.id).catch(fail); });
    }
    ol.append(li);
  }
}

async function renderEmail() {
  const e = st.email;
  $('msg-subject').textContent = e.subject || '(no subject)';
  renderThread();
  renderHeaders(e);
  await renderBody(e);
  $('act-flag').textContent = (e.keywords || {}).$flagged ? 'Unflag' : 'Flag';
  $('act-edit').hidden = !(e.keywords || {}).$draft;
  $('act-move').value = '';
  renderAttachments(e);
}

function sizeText(n) {
  if (n < 1024) return `${n} B`;
  return n < 1 << 20 ? `${(n / 1024).toFixed(1)} kB` : `${(n / (1 << 20)).toFixed(1)} MB`;
}

// Each attachment with its type and size, downloaded through JMAP's download
// URL: the server sends it as an attachment (never rendered by this origin).
// Images shown in the message's HTML are not listed again.
function renderAttachments(e) {
  const ul = $('msg-attachments');
  ul.replaceChildren();
  for (const a of e.attachments || []) {
    if (a.cid && st.inline && st.inline.id === e.id && st.inline.images.has(a.cid)) continue;
    const name = a.name || 'attachment';
    const type = a.type || 'application/octet-stream';
    const link = el('a', { href: st.jmap.downloadUrl(a.blobId, name, type), text: name });
    link.setAttribute('download', name);
    ul.append(el('li', {}, link, el('span', { class: 'meta', text: ` ${type}, ${sizeText(a.size || 0)}` })));
  }
}

// ---- flags, move, delete ----

// The SetError of id in a /set response's not* map (empty or null when none).
function setError(res, map, id) {
  const e = (res[map] || {})[id];
  return e ? `${e.type}${e.description ? ': ' + e.description : ''}` : null;
}

async function setKeyword(kw, on) {
  const id = st.open;
  const r = await st.jmap.call([['Email/set', { accountId: st.jmap.accountId,
    update: { [id]: { [`keywords/${kw}`]: on ? true : null } } }, 's']]);
  const err = setError(r.s, 'notUpdated', id);
  if (err) throw new Error(`not changed: ${err}`);
  st.email.keywords = { ...(st.email.keywords || {}) };
  if (on) st.email.keywords[kw] = true; else delete st.email.keywords[kw];
  $('act-flag').textContent = st.email.keywords.$flagged ? 'Unflag' : 'Flag';
  await refresh();
}

async function moveTo(mailboxId) {
  if (!mailboxId) return;
  const id = st.open;
  const r = await st.jmap.call([['Email/set', { accountId: st.jmap.accountId,
    update: { [id]: { mailboxIds: { [mailboxId]: true } } } }, 's']]);
  const err = setError(r.s, 'notUpdated', id);
  if (err) throw new Error(`not moved: ${err}`);
  const to = st.mailboxes.find((m) => m.id === mailboxId);
  status(`Moved to ${to ? to.name : 'folder'}.`);
  closeReader();
  await refresh();
}

async function remove() {
  const trash = mailboxByRole('trash');
  const id = st.open;
  if (trash && !st.email.mailboxIds[trash.id]) { await moveTo(trash.id); return; }
  const r = await st.jmap.call([['Email/set', { accountId: st.jmap.accountId, destroy: [id] }, 's']]);
  const err = setError(r.s, 'notDestroyed', id);
  if (err) throw new Error(`not deleted: ${err}`);
  status('Deleted.');
  closeReader();
  await refresh();
}

function closeCompose() {
  $('compose').hidden = true;
  $('app').classList.remove('reading');
}

function closeReader() {
  st.open = null;
  $('reader').hidden = true;
  $('app').classList.remove('reading');
}

async function refresh() {
  await loadMailboxes();
  await loadList();
}

// Everything in Trash destroyed, maxObjectsInSet at a time, after the user
// confirms.
async function emptyTrash() {
  const trash = mailboxByRole('trash');
  if (!trash || !window.confirm(`Delete every message in ${trash.name} for good?`)) return;
  const chunk = st.jmap.session.capabilities['urn:ietf:params:jmap:core'].maxObjectsInSet || 100;
  let gone = 0;
  for (;;) {
    const r = await st.jmap.call([
      ['Email/query', { accountId: st.jmap.accountId, filter: { inMailbox: trash.id }, limit: chunk }, 'q'],
      ['Email/set', { accountId: st.jmap.accountId,
        '#destroy': { resultOf: 'q', name: 'Email/query', path: '/ids' } }, 's'],
    ]);
    const n = (r.s.destroyed || []).length;
    gone += n;
    if (!n || r.q.ids.length < chunk) break;
  }
  if (st.open) closeReader();
  status(`Deleted ${gone} message${gone === 1 ? '' : 's'} for good.`);
  await refresh();
}

// ---- search ----

// What was typed (words, "phrases", from: to: subject: has:attachment
// before: after: is:, search.js) as Email/query's filter, over every folder.
async function onSearch(ev) {
  ev.preventDefault();
  const q = $('search-text').value.trim();
  const filter = searchFilter(q);
  st.search = filter ? q : null;
  st.searchFilter = filter;
  st.position = 0;
  renderMailboxes();
  await loadList();
}

// ---- compose: a draft with Email/set, sent with EmailSubmission/set ----

function parseAddresses(text) {
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const m = s.match(/^(.*)<([^>]+)>$/);
    return m ? { name: m[1].trim().replace(/^"|"$/g, '') || null, email: m[2].trim() } : { email: s };
  });
}

function openCompose(fields = {}) {
  putDraftAway();
  closeReader();
  $('reader').hidden = true;
  $('compose').hidden = false;
  $('app').classList.add('reading');
  $('c-to').value = fields.to || '';
  $('c-cc').value = fields.cc || '';
  $('c-subject').value = fields.subject || '';
  $('c-body').value = fields.body || '';
  st.draft = { inReplyTo: fields.inReplyTo || null, references: fields.references || null,
    attachments: fields.attachments || [], answers: fields.answers || null, id: fields.draftId || null,
    dirty: false, closed: false, timer: null, saving: Promise.resolve() };
  renderComposeAttachments();
  $('c-send').hidden = !st.jmap.canSubmit;
  $('c-status').textContent = st.jmap.canSubmit ? '' : 'Sending is not offered by this server yet; drafts can be saved.';
  $('c-to').focus();
}

function addressList(list) {
  return list.map((a) => (a.name ? `${a.name} <${a.email}>` : a.email)).join(', ');
}

// The subject with the prefix once: "Re: x" stays "Re: x".
function prefixed(subject, prefix, already) {
  const s = (subject || '').trim();
  return already.test(s) ? s : `${prefix} ${s}`;
}

// Addresses not the user's own, each once.
function others(list, seen = new Set(st.me)) {
  return (list || []).filter((a) => {
    const k = (a.email || '').toLowerCase();
    if (!k || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function quoted(e) {
  return textOf(e).split('\n').map((l) => `> ${l}`).join('\n');
}

// Reply (to Reply-To, else From) or reply to all (and To, Cc): In-Reply-To
// and References name the original (RFC 5322 3.6.4), its text quoted.
function reply(all) {
  const e = st.email;
  const seen = new Set(st.me);
  const to = others(e.replyTo && e.replyTo.length ? e.replyTo : e.from, seen);
  if (all) to.push(...others(e.to, seen));
  const cc = all ? others(e.cc, seen) : [];
  openCompose({
    to: addressList(to), cc: addressList(cc),
    subject: prefixed(e.subject, 'Re:', /^re:/i),
    body: `\n\n${addressText(e.from)} wrote:\n${quoted(e)}\n`,
    inReplyTo: e.messageId, references: [...(e.references || []), ...(e.messageId || [])],
    answers: e.id,
  });
}

// Forward: the text under a header block, the attachments by their blobIds.
function forward() {
  const e = st.email;
  const head = [['From', addressText(e.from)], ['Date', new Date(e.receivedAt).toString()],
    ['Subject', e.subject || ''], ['To', addressText(e.to)]].map(([k, v]) => `${k}: ${v}`).join('\n');
  openCompose({
    subject: prefixed(e.subject, 'Fwd:', /^fwd?:/i),
    body: `\n\n---------- Forwarded message ----------\n${head}\n\n${textOf(e)}\n`,
    attachments: attachmentsOf(e),
  });
}

// A message's attachments as compose keeps them (by blobId).
function attachmentsOf(e) {
  return (e.attachments || []).map((a) => ({ blobId: a.blobId, type: a.type || 'application/octet-stream',
    name: a.name || 'attachment', size: a.size || 0 }));
}

// A saved draft back in compose; saving or sending it replaces it.
function editDraft() {
  const e = st.email;
  openCompose({
    to: addressList(e.to || []), cc: addressList(e.cc || []), subject: e.subject || '',
    body: textOf(e), inReplyTo: e.inReplyTo, references: e.references,
    attachments: attachmentsOf(e), draftId: e.id,
  });
}

function draftEmail(d, mailboxId) {
  const email = {
    mailboxIds: { [mailboxId]: true }, keywords: { $draft: true, $seen: true },
    from: [{ email: $('whoami').textContent }], to: parseAddresses($('c-to').value),
    subject: $('c-subject').value,
    bodyValues: { b: { value: $('c-body').value } },
    textBody: [{ partId: 'b', type: 'text/plain' }],
  };
  const cc = parseAddresses($('c-cc').value);
  if (cc.length) email.cc = cc;
  if (d.inReplyTo) email.inReplyTo = d.inReplyTo;
  if (d.references && d.references.length) email.references = d.references;
  if (d.attachments.length) {
    email.attachments = d.attachments.map((a) => ({ blobId: a.blobId, type: a.type,
      name: a.name, disposition: 'attachment' }));
  }
  return email;
}

// Files chosen in compose are uploaded at once (RFC 8620 6.1); the message
// names their blobs when it is saved or sent.
async function addFiles(ev) {
  const files = [...ev.target.files];
  ev.target.value = '';
  for (const f of files) {
    $('c-status').textContent = `Uploading ${f.name}…`;
    const up = await st.jmap.upload(f);
    st.draft.attachments.push({ blobId: up.blobId, type: up.type || 'application/octet-stream',
      name: f.name, size: up.size });
    renderComposeAttachments();
    draftChanged();
  }
  $('c-status').textContent = files.length ? 'Attached.' : '';
}

function renderComposeAttachments() {
  const ul = $('c-attachments');
  ul.replaceChildren();
  st.draft.attachments.forEach((a, i) => {
    const rm = el('button', { type: 'button', text: 'Remove' });
    rm.setAttribute('aria-label', `Remove ${a.name}`);
    rm.addEventListener('click', () => {
      st.draft.attachments.splice(i, 1);
      renderComposeAttachments();
      draftChanged();
    });
    ul.append(el('li', {}, el('span', { text: `${a.name} (${sizeText(a.size || 0)}) ` }), rm));
  });
}

// ---- drafts: saved by themselves (autosave) or by the button ----

// A change in compose (re)starts the timer: AUTOSAVE_MS after the last
// change the draft is saved. A draft put away (sent, cancelled, another
// compose opened) starts no timer.
function draftChanged() {
  const d = st.draft;
  if (!d || d.closed) return;
  d.dirty = true;
  $('c-status').textContent = '';
  clearTimeout(d.timer);
  d.timer = setTimeout(() => saveDraft(d).catch(fail), AUTOSAVE_MS);
}

// The form as it is now, saved into Drafts with $draft once the saves before
// it are done (one draft's saves never overlap). A message is immutable:
// each save is a new Email, and the copy saved before is destroyed in the
// same call.
function saveDraft(d = st.draft) {
  clearTimeout(d.timer);
  const drafts = mailboxByRole('drafts');
  if (!drafts) return Promise.reject(new Error('no Drafts folder'));
  const email = draftEmail(d, drafts.id);
  d.dirty = false;
  d.saving = d.saving.catch(() => {}).then(() => writeDraft(d, email));
  return d.saving;
}

async function writeDraft(d, email) {
  const r = await st.jmap.call([['Email/set', { accountId: st.jmap.accountId, create: { d: email },
    destroy: d.id ? [d.id] : [] }, 's']]);
  if (!r.s.created || !r.s.created.d) {
    d.dirty = true;
    throw new Error(`draft not saved: ${setError(r.s, 'notCreated', 'd')}`);
  }
  d.id = r.s.created.d.id;
  if (email.attachments) await renameParts(d, email.attachments);
  if (d === st.draft) $('c-status').textContent = 'Draft saved.';
}

// An attachment kept from a saved message is named by that message's part
// blob, which goes with the copy this save destroyed: the attachments now
// take the blobIds of the new copy's parts (same order), so the next save
// or the send still finds them.
async function renameParts(d, sent) {
  const r = await st.jmap.call([['Email/get', { accountId: st.jmap.accountId, ids: [d.id],
    properties: ['attachments'] }, 'g']]);
  const parts = (r.g.list[0] || {}).attachments || [];
  sent.forEach((a, i) => {
    const kept = d.attachments.find((x) => x.blobId === a.blobId);
    if (kept && parts[i]) kept.blobId = parts[i].blobId;
  });
}

// Compose closed or replaced: what was typed since the last save is saved
// now, and the draft saves itself no more.
function putDraftAway() {
  const d = st.draft;
  if (!d || d.closed) return;
  if (d.dirty) saveDraft(d).catch(fail);
  clearTimeout(d.timer);
  d.closed = true;
}

function cancelCompose() {
  putDraftAway();
  closeCompose();
}

// Discard: nothing more is saved, and the copy saved so far (once any save
// under way is done) is destroyed.
async function discardDraft() {
  const d = st.draft;
  clearTimeout(d.timer);
  d.closed = true;
  d.dirty = false;
  closeCompose();
  await d.saving.catch(() => {});
  if (d.id) {
    const r = await st.jmap.call([['Email/set', { accountId: st.jmap.accountId, destroy: [d.id] }, 's']]);
    const err = setError(r.s, 'notDestroyed', d.id);
    if (err) throw new Error(`draft not discarded: ${err}`);
    d.id = null;
  }
  status('Draft discarded.');
  await refresh();
}

// Sent as one request: the message created (the saved draft destroyed in the
// same call, once any save in progress is done) and submitted; on success it
// moves from Drafts to Sent without $draft. Not sent, it stays a draft and
// saves itself again.
async function send(ev) {
  ev.preventDefault();
  const d = st.draft;
  const drafts = mailboxByRole('drafts');
  const sent = mailboxByRole('sent');
  if (!drafts || !st.jmap.canSubmit || d.closed) return;
  const me = $('whoami').textContent;
  const identity = st.identities.find((x) => x.email === me) || st.identities[0];
  if (!identity) throw new Error('no identity to send as');
  // keyed by the submission's creation id (RFC 8621 7.5), not the Email's
  const onSuccess = { '#m': { [`mailboxIds/${drafts.id}`]: null, 'keywords/$draft': null } };
  if (sent) onSuccess['#m'][`mailboxIds/${sent.id}`] = true;
  clearTimeout(d.timer);
  d.closed = true;
  await d.saving.catch(() => {});
  let r;
  try {
    r = await st.jmap.call([
      ['Email/set', { accountId: st.jmap.accountId, create: { e: draftEmail(d, drafts.id) },
        destroy: d.id ? [d.id] : [] }, 's'],
      ['EmailSubmission/set', { accountId: st.jmap.accountId, create: { m: { identityId: identity.id, emailId: '#e' } },
        onSuccessUpdateEmail: onSuccess }, 'm'],
    ]);
  } catch (err) {
    d.closed = false;
    throw err;
  }
  if (r.s.created && r.s.created.e) d.id = r.s.created.e.id; // stays in Drafts if not sent
  if (!r.m.created || !r.m.created.m) {
    d.closed = false;
    throw new Error(`not sent: ${setError(r.m, 'notCreated', 'm') || setError(r.s, 'notCreated', 'e')}`);
  }
  d.id = null;
  d.dirty = false;
  // the original of a reply is marked answered (IMAP's \Answered) once sent
  if (d.answers) {
    await st.jmap.call([['Email/set', { accountId: st.jmap.accountId,
      update: { [d.answers]: { 'keywords/$answered': true } } }, 'a']]);
  }
  closeCompose();
  status('Sent.');
  await refresh();
}

// ---- live updates (EventSource, RFC 8620 7.3) ----

// A state event means something changed: the lists are loaded again. The
// stream tells only changes made after it opened, so each (re)connection also
// loads them once: nothing delivered while it was connecting is missed.
// #app's data-live says whether the stream is open.
function listen() {
  if (st.events || !window.EventSource) return;
  st.events = new EventSource(st.jmap.eventSourceUrl(), { withCredentials: true });
  st.events.addEventListener('state', () => refresh().catch(fail));
  st.events.addEventListener('open', () => { $('app').dataset.live = 'on'; refresh().catch(fail); });
  st.events.addEventListener('error', () => { $('app').dataset.live = 'off'; });
}

// ---- keyboard ----

// The list's neighbour of the open message (or the first), opened.
function step(delta) {
  const items = [...$('messages').children];
  if (!items.length) return null;
  const at = items.findIndex((li) => li.dataset.id === st.open);
  const next = items[Math.min(items.length - 1, Math.max(0, at < 0 ? 0 : at + delta))];
  next.focus();
  return openEmail(next.dataset.id);
}

// Single keys, as mail readers have them, while no field has the focus.
const KEYS = {
  j: () => step(1), k: () => step(-1), c: () => openCompose(), '/': () => $('search-text').focus(),
  r: () => st.open && reply(false), a: () => st.open && reply(true), f: () => st.open && forward(),
  '#': () => st.open && remove(), Delete: () => st.open && remove(),
  Escape: () => { if ($('compose').hidden) closeReader(); else cancelCompose(); },
};

function onKey(ev) {
  const t = ev.target;
  if (ev.ctrlKey || ev.metaKey || ev.altKey || $('app').hidden) return;
  if (t.closest && t.closest('input, textarea, select') && ev.key !== 'Escape') return;
  const fn = KEYS[ev.key];
  if (!fn) return;
  ev.preventDefault();
  Promise.resolve(fn()).catch(fail);
}

// ---- wiring ----

function on(id, event, fn) {
  $(id).addEventListener(event, (ev) => { Promise.resolve(fn(ev)).catch(fail); });
}

function wire() {
  on('login', 'submit', onLogin);
  on('logout', 'click', onLogout);
  on('search', 'submit', onSearch);
  on('page-prev', 'click', () => page(-1));
  on('page-next', 'click', () => page(1));
  on('sort', 'change', (ev) => { st.sort = ev.target.value; st.position = 0; return loadList(); });
  on('empty-trash', 'click', emptyTrash);
  on('act-back', 'click', closeReader);
  on('act-flag', 'click', () => setKeyword('$flagged', !(st.email.keywords || {}).$flagged));
  on('act-unread', 'click', () => setKeyword('$seen', false));
  on('act-move', 'change', (ev) => moveTo(ev.target.value));
  on('act-delete', 'click', remove);
  on('act-edit', 'click', editDraft);
  on('act-reply', 'click', () => reply(false));
  on('act-reply-all', 'click', () => reply(true));
  on('act-forward', 'click', forward);
  on('msg-images-show', 'click', () => { st.remote = true; return renderBody(st.email); });
  on('compose-new', 'click', () => openCompose());
  on('compose', 'submit', send);
  on('c-save', 'click', async () => { await saveDraft(); await refresh(); });
  for (const id of ['c-to', 'c-cc', 'c-subject', 'c-body']) on(id, 'input', draftChanged);
  on('c-files', 'change', addFiles);
  document.addEventListener('keydown', onKey);
  on('c-cancel', 'click', cancelCompose);
  on('c-discard', 'click', discardDraft);
}

async function boot() {
  wire();
  const r = await fetch('/webmail/session', { credentials: 'same-origin' });
  if (r.status !== 200) { showLogin(); return; }
  await startApp(await r.json());
}

boot().catch(fail);
