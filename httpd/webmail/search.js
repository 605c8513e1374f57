// search.js — the search field's words as a JMAP Email/query filter (RFC 8621
// 4.4.1). Words and "quoted phrases" are text conditions; field:value terms
// (value quoted when it has spaces) are the FilterCondition properties they
// name; a term after "-" is negated. Every part must match (AND).
//   from: to: cc: subject:   the header fields
//   has:attachment           hasAttachment
//   before: after:           a date (YYYY-MM-DD) at local midnight: before
//                            is received earlier, after is that day or later
//   is:unread is:read is:flagged   the $seen and $flagged keywords

const TERM = /(-?)(?:([a-z]+):)?(?:"([^"]*)"?|(\S+))/gi;
const DATE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;

// JMAP's UTCDate (RFC 8620 1.4): no fraction of a second.
function utcDate(word, value) {
  const m = value.match(DATE);
  const d = m && new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (!d || d.getMonth() !== Number(m[2]) - 1) {
    throw new Error(`${word}: wants a date like 2026-03-01, not "${value}"`);
  }
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

const FIELDS = {
  from: (v) => ({ from: v }),
  to: (v) => ({ to: v }),
  cc: (v) => ({ cc: v }),
  subject: (v) => ({ subject: v }),
  before: (v) => ({ before: utcDate('before', v) }),
  after: (v) => ({ after: utcDate('after', v) }),
  has: (v) => (v.toLowerCase() === 'attachment' ? { hasAttachment: true } : null),
  is: (v) => ({ unread: { notKeyword: '$seen' }, read: { hasKeyword: '$seen' },
    flagged: { hasKeyword: '$flagged' } })[v.toLowerCase()] || null,
};

// One term as a condition: a field the table knows, else the whole term as
// text (so "re:plans" or "has:pdf" still search for what was typed).
function condition(field, value, raw) {
  const make = field && FIELDS[field.toLowerCase()];
  const c = make && value ? make(value) : null;
  return c || { text: raw };
}

// The filter for what was typed, or null when nothing was. Throws an
// Error (its message for the user) for a date that is not one.
export function searchFilter(query) {
  const conds = [];
  for (const m of query.matchAll(TERM)) {
    const [all, neg, field, quoted, bare] = m;
    const value = quoted !== undefined ? quoted : bare;
    const raw = field ? all.slice(neg.length) : value;
    if (!raw) continue;
    const c = condition(field, value, raw);
    conds.push(neg ? { operator: 'NOT', conditions: [c] } : c);
  }
  if (!conds.length) return null;
  return conds.length === 1 ? conds[0] : { operator: 'AND', conditions: conds };
}
