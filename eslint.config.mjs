// no-floating-promises is an error: every fire-and-forget call is `void`ed or `.catch(log)`ed.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', 'test-output/**', '**/*.mjs', '**/*.js', 'sample-workspace/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/out/**', '**/dist/**'], message: 'import sources, not build output' }] }],
    },
  },
  {
    // RPC calls pass the method object (agent/protocol/typedRpc.ts, agent/server/rpc.ts), so the compiler
    // checks parameters and results on both sides; tests may still speak raw JSON-RPC on purpose.
    files: ['extension/**/*.ts', 'agent/**/*.ts', 'webview/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[property.name='method'][object.type='MemberExpression'][object.object.name=/^(Limits)?Methods$/]",
          message: 'Pass the method object itself — sendRequest(client, Methods.x, params), onRequest(connection, Methods.x, handler), notifySafely(connection, Methods.x, params) — not its .method string.',
        },
        {
          selector: "CallExpression[callee.property.name=/^(sendRequest|sendNotification|onRequest|onNotification)$/] > :matches(Literal, TemplateLiteral):first-child",
          message: 'Declare the method in agent/protocol (Methods, LimitsMethods) and pass that object, not a method string.',
        },
      ],
    },
  },
);
