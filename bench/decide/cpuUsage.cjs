// Preloaded by run.mjs (`node -r ./cpuUsage.cjs dist/agent.js …`): reports the process's own CPU
// time on stderr at exit, so timings can be read apart from waiting for a shared machine's cores.
process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  process.stderr.write(`\ncpu-usage-us ${user} ${system}\n`);
});
