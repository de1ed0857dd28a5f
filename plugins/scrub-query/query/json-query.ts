// Go's weed/query/json (QueryJson, filterJson, ToJson): a one-condition filter on a value picked
// by path, the selected values' raw texts, and the record form `{name:raw,name:raw}` (names as
// given, values as they appear in the input; Go writes exactly this, not strict JSON).
import { exists, getPath, wildcardMatch, type JsonResult } from './json-path.js';
import { goParseFloat } from './json-path.js';

export interface JsonFilter {
  field: string;
  op: string;
  value: string;
}

/** A request text (UTF-8) as a byte string, the form the JSON helpers work on. */
export function byteString(s: string): string {
  return Buffer.from(s ?? '', 'utf8').toString('latin1');
}

/** Go's filterJson: whether the line passes (the field must exist; an empty operator passes it). */
export function passesFilter(line: string, f: JsonFilter): boolean {
  const v: JsonResult = getPath(line, f.field);
  const rpv = f.value;
  if (!exists(v)) return false;
  if (f.op === '') return true;
  switch (v.type) {
    case 'string':
      switch (f.op) {
        case '=':
          return v.str === rpv;
        case '!=':
          return v.str !== rpv;
        case '<':
          return v.str < rpv;
        case '<=':
          return v.str <= rpv;
        case '>':
          return v.str > rpv;
        case '>=':
          return v.str >= rpv;
        case '%':
          return wildcardMatch(v.str, rpv);
        case '!%':
          return !wildcardMatch(v.str, rpv);
      }
      return false;
    case 'number': {
      const n = goParseFloat(rpv);
      switch (f.op) {
        case '=':
          return v.num === n;
        case '!=':
          return v.num !== n;
        case '<':
          return v.num < n;
        case '<=':
          return v.num <= n;
        case '>':
          return v.num > n;
        case '>=':
          return v.num >= n;
      }
      return false;
    }
    case 'true':
      switch (f.op) {
        case '=':
          return rpv === 'true';
        case '!=':
          return rpv !== 'true';
        case '>':
          return rpv === 'false';
        case '>=':
          return true;
      }
      return false;
    case 'false':
      switch (f.op) {
        case '=':
          return rpv === 'false';
        case '!=':
          return rpv !== 'false';
        case '<':
          return rpv === 'true';
        case '<=':
          return true;
      }
      return false;
  }
  return false;
}

/**
 * Go's QueryJson + ToJson for one line: the record `{sel:raw,...}` (a byte string) when the line
 * passes the filter, else undefined. `selections` and the filter are byte strings.
 */
export function queryLine(line: string, selections: string[], f: JsonFilter): string | undefined {
  if (!passesFilter(line, f)) return undefined;
  return '{' + selections.map((s) => `${s}:${getPath(line, s).raw}`).join(',') + '}';
}
