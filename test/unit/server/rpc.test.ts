/** The one error → wire-code map (agent/server/rpc.ts) and what users see of unexpected errors (agent/log.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from 'vscode-languageserver/node';
import { toResponseError } from '../../../agent/server/rpc';
import { RunRefusedError } from '../../../agent/errors';
import { ExportError, GpuUnavailableError, HistoryUnavailableError, UnknownRunError } from '../../../agent/errors';
import { BusyError } from '../../../agent/store/sqlite';
import { CarbonSourceError } from '../../../agent/carbon/provider';
import { AgentErrorCodes } from '../../../agent/protocol/messages';
import { isInternalError, userMessage } from '../../../agent/log';

describe('toResponseError: error classes, not message texts, decide the code', () => {
  const cases: Array<[Error, number]> = [
    [new RunRefusedError('GPU 0 is already controlled by another run'), AgentErrorCodes.runRefused],
    [new UnknownRunError('No live run "x"'), AgentErrorCodes.unknownRun],
    [new HistoryUnavailableError('No runs recorded yet'), AgentErrorCodes.historyUnavailable],
    [new BusyError('/h.sqlite', 5000), AgentErrorCodes.historyUnavailable],
    [new ExportError('x.json already exists'), AgentErrorCodes.exportFailed],
    [new GpuUnavailableError('GPU control failed to start'), AgentErrorCodes.gpuUnavailable],
    [new CarbonSourceError('No embedded trace for zone "FR"', 'unknown-zone'), AgentErrorCodes.unknownZone],
    [new CarbonSourceError('chase.carbon.replaySpeed must be positive', 'invalid-settings'), AgentErrorCodes.invalidSettings],
    [new CarbonSourceError('Electricity Maps is unreachable', 'unavailable'), AgentErrorCodes.carbonSourceUnavailable],
    // a message that once steered the regex map ("locked") no longer decides anything
    [new ExportError('the file is locked by another program'), AgentErrorCodes.exportFailed],
  ];
  for (const [e, code] of cases) {
    it(`${e.constructor.name} → ${code}, message kept`, () => {
      const r = toResponseError(e, 'chase/x');
      assert.equal(r.code, code);
      assert.equal(r.message, e.message);
    });
  }

  it('an engine error → InternalError saying "internal error … please report", never its own text', () => {
    let caught: unknown;
    try {
      JSON.parse('{not json'); // a SyntaxError, as the engine throws it
    } catch (e) {
      caught = e;
    }
    const r = toResponseError(caught, 'chase/startRun');
    assert.equal(r.code, ErrorCodes.InternalError);
    assert.match(r.message, /^internal error in chase-agent \(chase\/startRun\): please report it/);
    assert.doesNotMatch(r.message, /JSON|position|Unexpected token/);
  });

  it('a plain Error written for users keeps its message (InternalError code)', () => {
    const r = toResponseError(new Error('another Chase agent (pid 7) is already recording history in /h; stop it'), 'chase/startRun');
    assert.equal(r.code, ErrorCodes.InternalError);
    assert.match(r.message, /another Chase agent/);
  });
});

describe('userMessage', () => {
  it('engine errors and thrown non-Errors are internal; ours are not', () => {
    assert.ok(isInternalError(new TypeError('x')) && isInternalError(new RangeError('x')) && isInternalError(new SyntaxError('x')) && isInternalError('a string') && isInternalError(undefined));
    assert.ok(!isInternalError(new Error('x')) && !isInternalError(new RunRefusedError('x')) && !isInternalError(new CarbonSourceError('x', 'auth')));
    assert.equal(userMessage(new RunRefusedError('GPU 0 is busy'), 'w'), 'GPU 0 is busy');
  });

  it('writes the stack of an internal error to the log (stderr), and tells the user where to find it', () => {
    const written: string[] = [];
    const saved = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (written.push(chunk), true)) as typeof process.stderr.write;
    try {
      const text = userMessage(new TypeError("Cannot read properties of null (reading 'pid')"), 'chase/runs');
      assert.match(text, /internal error in chase-agent \(chase\/runs\): please report it with the agent log/);
    } finally {
      process.stderr.write = saved;
    }
    assert.match(written.join(''), /\[error\] internal: internal error in chase\/runs: TypeError: Cannot read properties of null \(reading 'pid'\)\n\s+at /);
  });
});
