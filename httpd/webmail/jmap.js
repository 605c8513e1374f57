// jmap.js — the webmail's JMAP client (RFC 8620): the session resource, API
// calls and uploads with the session's CSRF token, and the URLs of downloads
// and push.
// The page is served by the same origin as JMAP, so every URL of the session
// object is used by its path only (the host the user typed may differ from
// the one the server names).

export const CORE = 'urn:ietf:params:jmap:core';
export const MAIL = 'urn:ietf:params:jmap:mail';
export const SUBMISSION = 'urn:ietf:params:jmap:submission';

export class AuthError extends Error {}

function pathOf(url) {
  return url.replace(/^https?:\/\/[^/]+/, '');
}

export class Jmap {
  constructor(csrf) {
    this.csrf = csrf;
  }

  async start() {
    const r = await fetch('/jmap/session', { credentials: 'same-origin' });
    if (r.status === 401) throw new AuthError('not logged in');
    if (!r.ok) throw new Error(`session: HTTP ${r.status}`);
    const s = await r.json();
    this.session = s;
    this.accountId = s.primaryAccounts[MAIL];
    this.apiPath = pathOf(s.apiUrl);
    this.downloadTemplate = pathOf(s.downloadUrl);
    this.uploadTemplate = pathOf(s.uploadUrl);
    this.eventSourceTemplate = pathOf(s.eventSourceUrl);
    this.canSubmit = SUBMISSION in s.capabilities;
    return s;
  }

  // Method calls [[name, args, id], ...] -> {id: args}; a method
  // error becomes an exception naming it.
  async call(calls) {
    const using = [CORE, MAIL];
    if (this.canSubmit) using.push(SUBMISSION);
    const r = await fetch(this.apiPath, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': this.csrf },
      body: JSON.stringify({ using, methodCalls: calls }),
    });
    if (r.status === 401) throw new AuthError('session ended');
    if (!r.ok) throw new Error(`JMAP request: HTTP ${r.status}`);
    const out = {};
    for (const [name, args, id] of (await r.json()).methodResponses) {
      if (name === 'error') throw new Error(`${id}: ${args.type}${args.description ? ': ' + args.description : ''}`);
      // the first response of each call: an implicit Email/set after
      // EmailSubmission/set (onSuccessUpdateEmail) shares its call id
      if (!(id in out)) out[id] = args;
    }
    return out;
  }

  // A file (or Blob) uploaded as a blob (RFC 8620 6.1): {blobId, type, size}.
  async upload(file) {
    const r = await fetch(this.uploadTemplate.replace('{accountId}', encodeURIComponent(this.accountId)), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': file.type || 'application/octet-stream', 'X-CSRF-Token': this.csrf },
      body: file,
    });
    if (r.status === 401) throw new AuthError('session ended');
    let data = {};
    try { data = await r.json(); } catch (e) { /* not JSON: the status says it */ }
    if (!r.ok) throw new Error(`upload of ${file.name || 'a file'}: ${data.detail || `HTTP ${r.status}`}`);
    return data;
  }

  downloadUrl(blobId, name, type) {
    return this.downloadTemplate
      .replace('{accountId}', encodeURIComponent(this.accountId))
      .replace('{blobId}', encodeURIComponent(blobId))
      .replace('{name}', encodeURIComponent(name || 'attachment'))
      .replace('{type}', encodeURIComponent(type || 'application/octet-stream'));
  }

  eventSourceUrl() {
    return this.eventSourceTemplate
      .replace('{types}', '*').replace('{closeafter}', 'no').replace('{ping}', '60');
  }
}
