import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issues, lines, parseOk } from './test-helpers.ts';

const svc = (route: string, top = '') =>
  `${top}services:\n  web:\n    version: v1\n    run: { command: x }\n    route: ${route}\n`;

test('route faults parse with allowFaults: true', () => {
  const c = parseOk(
    svc(
      '{ faults: { revision: 3, abort: { status: 503, percent: 1 }, delay: { ms: 200, percent: "5%" } } }',
      'allowFaults: true\n',
    ),
  );
  assert.equal(c.allowFaults, true);
  assert.deepEqual(c.services.web.route.faults, {
    revision: 3,
    abort: { status: 503, percent: 1 },
    delay: { ms: 200, percent: 5 },
  });
  const d = parseOk(svc('{ faults: { delay: { ms: 1s, percent: 50 } } }', 'allowFaults: true\n'));
  assert.deepEqual(d.services.web.route.faults, { delay: { ms: 1000, percent: 50 } });
  assert.equal(parseOk(svc('{ pathPrefix: / }')).services.web.route.faults, undefined);
});

test('faults are refused without allowFaults, and bad values are named by key path', () => {
  const table: Array<[string, string, string[]]> = [
    [
      '',
      '{ faults: { abort: { status: 503, percent: 1 } } }',
      [
        '5: services.web.route.faults: fault injection is refused unless allowFaults: true is set at the top level of the file',
      ],
    ],
    [
      'allowFaults: false\n',
      '{ faults: { abort: { status: 503, percent: 1 } } }',
      [
        '6: services.web.route.faults: fault injection is refused unless allowFaults: true is set at the top level of the file',
      ],
    ],
    [
      'allowFaults: yes please\n',
      '{ pathPrefix: / }',
      ['1: allowFaults: must be true or false, got "yes please"'],
    ],
    [
      'allowFaults: true\n',
      '{ faults: { abort: { status: 200, percent: 150 } } }',
      [
        '6: services.web.route.faults.abort.status: must be an integer between 400 and 599, got 200',
        '6: services.web.route.faults.abort.percent: must be a percentage between 0 and 100, got 150',
      ],
    ],
    [
      'allowFaults: true\n',
      '{ faults: { delay: { percent: 5 }, rate: 1 } }',
      [
        '6: services.web.route.faults.rate: unknown key',
        '6: services.web.route.faults.delay.ms: is required (e.g. 200, or "200ms")',
      ],
    ],
    [
      'allowFaults: true\n',
      '{ faults: {} }',
      [
        '6: services.web.route.faults: needs abort ({ status, percent }) or delay ({ ms, percent }), got a mapping',
      ],
    ],
  ];
  for (const [top, route, want] of table) {
    assert.deepEqual(lines(issues(svc(route, top))), want, `${top}${route}`);
  }
});
