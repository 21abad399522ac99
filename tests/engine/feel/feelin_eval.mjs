// Reference evaluator for the differential test of engine/feel.
//
// Reads a JSON array of {"expr": string, "context": object} from stdin and writes a JSON array
// of results in the same order: {"value": <tagged value>} or {"error": "<message>"}.
//
// Values are tagged so the Python side can compare types, not only JSON shapes:
//   null, booleans and strings as themselves; numbers as {"$number": n};
//   lists as arrays; contexts as {"$context": {...}};
//   {"$date": iso}, {"$time": iso}, {"$datetime": iso};
//   {"$duration": iso, "yearsMonths": bool}; {"$range": ...}; {"$function": true}.
import { readFileSync } from 'node:fs';
import {
  evaluate,
  FeelDate,
  FeelDateTime,
  FeelDuration,
  FeelTime,
  isFunction,
  isRange,
} from 'feelin';

function tag(value) {
  if (value === null || value === undefined) {
    return null;
  }
  if (typeof value === 'boolean' || typeof value === 'string') {
    return value;
  }
  if (typeof value === 'number') {
    return { $number: Number.isFinite(value) ? value : String(value) };
  }
  if (Array.isArray(value)) {
    return value.map(tag);
  }
  if (value instanceof FeelDate) {
    return { $date: value.toString() };
  }
  if (value instanceof FeelTime) {
    return { $time: value.toString() };
  }
  if (value instanceof FeelDateTime) {
    return { $datetime: value.toString() };
  }
  if (value instanceof FeelDuration) {
    return { $duration: value.toString(), yearsMonths: Boolean(value.yearsMonths) };
  }
  if (isRange(value)) {
    return { $range: String(value) };
  }
  if (isFunction(value) || typeof value === 'function') {
    return { $function: true };
  }
  if (typeof value === 'object') {
    const context = {};
    for (const [key, item] of Object.entries(value)) {
      context[key] = tag(item);
    }
    return { $context: context };
  }
  return { $unknown: String(value) };
}

const corpus = JSON.parse(readFileSync(0, 'utf8'));
const results = corpus.map(({ expr, context }) => {
  try {
    return { value: tag(evaluate(expr, context ?? {}, 'camunda').value) };
  } catch (error) {
    return { error: String(error && error.message ? error.message : error) };
  }
});
process.stdout.write(JSON.stringify(results));
