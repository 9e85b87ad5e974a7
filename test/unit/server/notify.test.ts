/**
 * Issue 12, finding 4: vscode-jsonrpc's sendNotification throws synchronously once the connection
 * is closed, so the agent's old `void send(...).catch(...)` threw out of a run's output callback and
 * ended the process. notifySafely must swallow both the synchronous throw and a rejected promise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { notifySafely } from '../../../agent/server/notify';
import { Methods } from '../../../agent/protocol/messages';
import { memoryLogger } from '../store/helpers';

test('a notification to a closed connection neither throws nor rejects', async () => {
  const toPeer = new PassThrough();
  const fromPeer = new PassThrough();
  const connection = createMessageConnection(new StreamMessageReader(fromPeer), new StreamMessageWriter(toPeer));
  connection.listen();
  fromPeer.end(); // the client went away
  await new Promise((r) => setImmediate(r));
  connection.end();
  assert.throws(() => void connection.sendNotification('chase/runOutput', { text: 'x' }).catch(() => undefined), /closed/i, 'the old pattern throws synchronously');
  const log = memoryLogger();
  assert.doesNotThrow(() => notifySafely(connection, Methods.runOutput, { runId: 'run-1', stream: 'stdout', text: 'x' }, log));
  assert.match(log.lines.join('\n'), /chase\/runOutput not delivered/);
});
