/*
 * A fake libnvidia-ml.so.1 for Chase's tests and benchmarks. It exports every NVML entry point the
 * agent binds (agent/gpu/nvml.ts), with the exact C signatures of nvml.h, and is driven by a state
 * file a test writes (path in env FAKE_NVML_STATE, read at nvmlInit_v2):
 *
 *   # comment
 *   gpu uuid=GPU-... name=NVIDIA_A40 bus=00000000:01:00.0 arch=7 min=100000 max=300000
 *       default=300000 limit=300000 demand=250000 energy=0 ts=0 util=90 memutil=40
 *       persistence=1 mig=0 procs=1234:1048576,5678:2048          (one line per GPU)
 *   err nvmlDeviceSetPowerManagementLimit 4        (inject a return code for every device)
 *   err nvmlDeviceGetPowerUsage 15 1               (... or only for device index 1)
 *
 * Which process-list symbols it exports follows the driver branch it imitates (compile with
 * -DFAKE_NVML_DRIVER=<branch>; the symbol lists are those of Debian's real libnvidia-ml.so.1):
 *   535 (default)  nvmlDeviceGetComputeRunningProcesses, _v2 and _v3
 *   470            nvmlDeviceGetComputeRunningProcesses and _v2 (no _v3)
 *   418            only nvmlDeviceGetComputeRunningProcesses (nvmlProcessInfo_v1_t, 16 bytes)
 *
 * `name` uses '_' for spaces. Power drawn is min(demand, limit) mW. The energy counter (mJ) advances
 * with that power over wall time from (energy, ts): ts is epoch ms; 0 means "from nvmlInit". A
 * successful nvmlDeviceSetPowerManagementLimit writes the whole state back (limit, and energy
 * accumulated so far with ts = now), so another process loading the file later sees it; that is
 * what the kill -9 test relies on.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t;
typedef struct fake_gpu *nvmlDevice_t;

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_UNKNOWN 999

#define MAX_GPUS 64
#define MAX_PROCS 8
#define MAX_ERRS 64

struct fake_proc { unsigned int pid; unsigned long long mem; };

struct fake_gpu {
  char uuid[96], name[96], bus[32];
  unsigned int arch, min_mw, max_mw, default_mw, limit_mw, demand_mw, util, memutil, persistence, mig;
  unsigned long long energy_mj; /* energy at energy_ts_ms */
  double energy_ts_ms;
  unsigned int nprocs;
  struct fake_proc procs[MAX_PROCS];
};

/* nvmlPciInfo_t as nvml.h declares it (the layout nvmlDeviceGetPciInfo_v3 fills). */
typedef struct {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;

typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;

/* nvmlProcessInfo_v2_t = nvmlProcessInfo_t (filled by the _v3 and _v2 getters). */
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

/* nvmlProcessInfo_v1_t (filled by the unversioned getter). */
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

#ifndef FAKE_NVML_DRIVER
#define FAKE_NVML_DRIVER 535
#endif

struct fake_err { char fn[80]; int code; int index; /* -1: all */ };

static struct fake_gpu gpus[MAX_GPUS];
static unsigned int gpu_count = 0;
static struct fake_err errs[MAX_ERRS];
static unsigned int err_count = 0;
static int init_count = 0;
static int init_error = 0; /* error injected on nvmlInit_v2 itself */
static char state_path[4096];

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static unsigned int power_mw(const struct fake_gpu *g) {
  return g->demand_mw < g->limit_mw ? g->demand_mw : g->limit_mw;
}

static unsigned long long energy_now(const struct fake_gpu *g) {
  double dt = now_ms() - g->energy_ts_ms;
  if (dt < 0) dt = 0;
  return g->energy_mj + (unsigned long long)((double)power_mw(g) * dt / 1000.0);
}

static int injected(const char *fn, const struct fake_gpu *g) {
  for (unsigned int i = 0; i < err_count; i++) {
    if (strcmp(errs[i].fn, fn) != 0) continue;
    if (errs[i].index < 0 || (g && (unsigned int)errs[i].index == (unsigned int)(g - gpus))) return errs[i].code;
  }
  return 0;
}

static void parse_gpu(char *line) {
  if (gpu_count >= MAX_GPUS) return;
  struct fake_gpu *g = &gpus[gpu_count++];
  memset(g, 0, sizeof *g);
  snprintf(g->name, sizeof g->name, "NVIDIA Fake GPU");
  snprintf(g->uuid, sizeof g->uuid, "GPU-fake-%04u", gpu_count - 1);
  snprintf(g->bus, sizeof g->bus, "00000000:%02X:00.0", gpu_count);
  g->arch = 7; g->min_mw = 100000; g->max_mw = 300000; g->default_mw = 300000; g->limit_mw = 300000;
  g->demand_mw = 250000; g->persistence = 1;
  double ts = 0;
  for (char *tok = strtok(line, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
    char *eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = 0;
    const char *k = tok, *v = eq + 1;
    if (!strcmp(k, "uuid")) snprintf(g->uuid, sizeof g->uuid, "%s", v);
    else if (!strcmp(k, "name")) {
      snprintf(g->name, sizeof g->name, "%s", v);
      for (char *c = g->name; *c; c++) if (*c == '_') *c = ' ';
    }
    else if (!strcmp(k, "bus")) snprintf(g->bus, sizeof g->bus, "%s", v);
    else if (!strcmp(k, "arch")) g->arch = (unsigned int)strtoul(v, NULL, 10);
    else if (!strcmp(k, "min")) g->min_mw = (unsigned int)strtoul(v, NULL, 10);
    else if (!strcmp(k, "max")) g->max_mw = (unsigned int)strtoul(v, NULL, 10);
    else if (!strcmp(k, "default")) g->default_mw = (unsigned int)strtoul(v, NULL, 10);
    else if (!strcmp(k, "limit")) g->limit_mw = (unsigned int)strtoul(v, NULL, 10);
    else if (!strcmp(k, "demand")) g->demand_mw = (unsigned int)strtoul(v, NULL, 10);
    else if (!strcmp(k, "energy")) g->energy_mj = strtoull(v, NULL, 10);
    else if (!strcmp(k, "ts")) ts = strtod(v, NULL);
    else if (!strcmp(k, "util")) g->util = (unsigned int)strtoul(v, NULL, 10);
    else if (!strcmp(k, "memutil")) g->memutil = (unsigned int)strtoul(v, NULL, 10);
    else if (!strcmp(k, "persistence")) g->persistence = (unsigned int)strtoul(v, NULL, 10);
    else if (!strcmp(k, "mig")) g->mig = (unsigned int)strtoul(v, NULL, 10);
    else if (!strcmp(k, "procs")) {
      char *save = NULL;
      for (char *p = strtok_r((char *)v, ",", &save); p && g->nprocs < MAX_PROCS; p = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(p, ':');
        g->procs[g->nprocs].pid = (unsigned int)strtoul(p, NULL, 10);
        g->procs[g->nprocs].mem = colon ? strtoull(colon + 1, NULL, 10) : 0;
        g->nprocs++;
      }
    }
  }
  g->energy_ts_ms = ts > 0 ? ts : now_ms();
}

static int load_state(void) {
  gpu_count = 0; err_count = 0; init_error = 0;
  const char *path = getenv("FAKE_NVML_STATE");
  if (!path || !*path) { /* no state: two default GPUs */
    char a[] = "uuid=GPU-fake-0000", b[] = "uuid=GPU-fake-0001";
    parse_gpu(a); parse_gpu(b);
    state_path[0] = 0;
    return 0;
  }
  snprintf(state_path, sizeof state_path, "%s", path);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[2048];
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "gpu", 3) && (line[3] == ' ' || line[3] == '\t')) parse_gpu(line + 4);
    else if (!strncmp(line, "err ", 4) && err_count < MAX_ERRS) {
      struct fake_err *e = &errs[err_count];
      int index = -1;
      if (sscanf(line + 4, "%79s %d %d", e->fn, &e->code, &index) >= 2) {
        e->index = index;
        if (!strcmp(e->fn, "nvmlInit_v2")) init_error = e->code; else err_count++;
      }
    }
  }
  fclose(f);
  return 0;
}

/* Rewrites the state file (atomically: temp file + rename) with the current limits and energy. */
static void save_state(void) {
  if (!state_path[0]) return;
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", state_path, (long)now_ms());
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  double t = now_ms();
  fprintf(f, "# written by fake_nvml.c\n");
  for (unsigned int i = 0; i < gpu_count; i++) {
    struct fake_gpu *g = &gpus[i];
    char name[96];
    snprintf(name, sizeof name, "%s", g->name);
    for (char *c = name; *c; c++) if (*c == ' ') *c = '_';
    fprintf(f, "gpu uuid=%s name=%s bus=%s arch=%u min=%u max=%u default=%u limit=%u demand=%u energy=%llu ts=%.0f util=%u memutil=%u persistence=%u mig=%u",
            g->uuid, name, g->bus, g->arch, g->min_mw, g->max_mw, g->default_mw, g->limit_mw, g->demand_mw,
            energy_now(g), t, g->util, g->memutil, g->persistence, g->mig);
    for (unsigned int p = 0; p < g->nprocs; p++)
      fprintf(f, "%s%u:%llu", p ? "," : " procs=", g->procs[p].pid, g->procs[p].mem);
    fprintf(f, "\n");
  }
  for (unsigned int i = 0; i < err_count; i++) fprintf(f, "err %s %d %d\n", errs[i].fn, errs[i].code, errs[i].index);
  if (init_error) fprintf(f, "err nvmlInit_v2 %d\n", init_error);
  fflush(f);
  fclose(f);
  rename(tmp, state_path);
}

#define CHECK_INIT() do { if (init_count <= 0) return NVML_ERROR_UNINITIALIZED; } while (0)
#define CHECK_DEV(fn) do { CHECK_INIT(); if (!device || device < gpus || device >= gpus + gpu_count) return NVML_ERROR_INVALID_ARGUMENT; \
  int _e = injected(fn, device); if (_e) return _e; } while (0)

nvmlReturn_t nvmlInit_v2(void) {
  if (init_count == 0) {
    if (load_state() != 0) return NVML_ERROR_UNKNOWN;
    if (init_error) return init_error;
  }
  init_count++;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
  CHECK_INIT();
  int e = injected("nvmlShutdown", NULL);
  if (e) return e;
  init_count--;
  return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t r) {
  switch (r) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 5: return "Already Initialized";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 8: return "Insufficient External Power";
    case 9: return "Driver Not Loaded";
    case 10: return "Timeout";
    case 11: return "Interrupt Request Issue";
    case 12: return "NVML Shared Library Not Found";
    case 13: return "Function Not Found";
    case 14: return "Corrupted infoROM";
    case 15: return "GPU is lost";
    case 16: return "GPU requires restart";
    case 17: return "The operating system has blocked the request.";
    case 18: return "RM has detected an NVML/RM version mismatch.";
    case 19: return "In use by another client";
    case 20: return "Insufficient Memory";
    case 21: return "No data";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
  CHECK_INIT();
  int e = injected("nvmlDeviceGetCount_v2", NULL);
  if (e) return e;
  if (!deviceCount) return NVML_ERROR_INVALID_ARGUMENT;
  *deviceCount = gpu_count;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  CHECK_INIT();
  if (!device || index >= gpu_count) return NVML_ERROR_INVALID_ARGUMENT;
  int e = injected("nvmlDeviceGetHandleByIndex_v2", &gpus[index]);
  if (e) return e;
  *device = &gpus[index];
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
  CHECK_INIT();
  if (!uuid || !device) return NVML_ERROR_INVALID_ARGUMENT;
  for (unsigned int i = 0; i < gpu_count; i++) {
    if (!strcmp(gpus[i].uuid, uuid)) {
      int e = injected("nvmlDeviceGetHandleByUUID", &gpus[i]);
      if (e) return e;
      *device = &gpus[i];
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_NOT_FOUND;
}

static nvmlReturn_t copy_string(const char *src, char *dst, unsigned int length) {
  if (!dst) return NVML_ERROR_INVALID_ARGUMENT;
  if (strlen(src) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  memcpy(dst, src, strlen(src) + 1);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
  CHECK_DEV("nvmlDeviceGetName");
  return copy_string(device->name, name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
  CHECK_DEV("nvmlDeviceGetUUID");
  return copy_string(device->uuid, uuid, length);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
  CHECK_DEV("nvmlDeviceGetPciInfo_v3");
  if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
  memset(pci, 0, sizeof *pci);
  snprintf(pci->busId, sizeof pci->busId, "%s", device->bus);
  snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%.15s", device->bus + (strlen(device->bus) > 12 ? 4 : 0));
  unsigned int dom = 0, bus = 0, dev = 0;
  sscanf(device->bus, "%x:%x:%x", &dom, &bus, &dev);
  pci->domain = dom; pci->bus = bus; pci->device = dev; pci->pciDeviceId = 0x223510DE;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, unsigned int *arch) {
  CHECK_DEV("nvmlDeviceGetArchitecture");
  if (!arch) return NVML_ERROR_INVALID_ARGUMENT;
  *arch = device->arch;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
  CHECK_DEV("nvmlDeviceGetPowerUsage");
  if (!power) return NVML_ERROR_INVALID_ARGUMENT;
  *power = power_mw(device);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
  CHECK_DEV("nvmlDeviceGetTotalEnergyConsumption");
  if (!energy) return NVML_ERROR_INVALID_ARGUMENT;
  if (device->arch < 5) return NVML_ERROR_NOT_SUPPORTED; /* the counter exists from Volta on */
  *energy = energy_now(device);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit) {
  CHECK_DEV("nvmlDeviceGetPowerManagementLimit");
  if (!limit) return NVML_ERROR_INVALID_ARGUMENT;
  *limit = device->limit_mw;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device, unsigned int *minLimit, unsigned int *maxLimit) {
  CHECK_DEV("nvmlDeviceGetPowerManagementLimitConstraints");
  if (!minLimit || !maxLimit) return NVML_ERROR_INVALID_ARGUMENT;
  *minLimit = device->min_mw;
  *maxLimit = device->max_mw;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device, unsigned int *defaultLimit) {
  CHECK_DEV("nvmlDeviceGetPowerManagementDefaultLimit");
  if (!defaultLimit) return NVML_ERROR_INVALID_ARGUMENT;
  *defaultLimit = device->default_mw;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
  CHECK_DEV("nvmlDeviceGetEnforcedPowerLimit");
  if (!limit) return NVML_ERROR_INVALID_ARGUMENT;
  *limit = device->limit_mw;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceSetPowerManagementLimit(nvmlDevice_t device, unsigned int limit) {
  CHECK_DEV("nvmlDeviceSetPowerManagementLimit");
  if (limit < device->min_mw || limit > device->max_mw) return NVML_ERROR_INVALID_ARGUMENT;
  /* bank the energy burnt at the old power before the power changes */
  device->energy_mj = energy_now(device);
  device->energy_ts_ms = now_ms();
  device->limit_mw = limit;
  save_state();
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
  CHECK_DEV("nvmlDeviceGetUtilizationRates");
  if (!utilization) return NVML_ERROR_INVALID_ARGUMENT;
  utilization->gpu = device->util;
  utilization->memory = device->memutil;
  return NVML_SUCCESS;
}

/* NVML_CLOCK_SM = 1. The fake's SM clock falls with the power it may draw: 1740 MHz at the maximum
 * limit, proportionally less below it (real GPUs lower clocks to meet a power cap). */
nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, unsigned int type, unsigned int *clock) {
  CHECK_DEV("nvmlDeviceGetClockInfo");
  if (!clock || type > 3) return NVML_ERROR_INVALID_ARGUMENT;
  *clock = (unsigned int)(1740.0 * (double)power_mw(device) / (double)device->max_mw);
  return NVML_SUCCESS;
}

/* The size handshake every process getter shares: SUCCESS with the list, or INSUFFICIENT_SIZE with the count. */
static int process_count_ok(nvmlDevice_t device, unsigned int *infoCount, const void *infos, nvmlReturn_t *rc) {
  if (!infoCount) { *rc = NVML_ERROR_INVALID_ARGUMENT; return 0; }
  if (!infos || *infoCount < device->nprocs) {
    unsigned int had = *infoCount;
    *infoCount = device->nprocs;
    *rc = (device->nprocs == 0 && had == 0) ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
    return 0;
  }
  *infoCount = device->nprocs;
  return 1;
}

static __attribute__((unused)) nvmlReturn_t processes_v2(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos) {
  nvmlReturn_t rc = NVML_SUCCESS;
  if (!process_count_ok(device, infoCount, infos, &rc)) return rc;
  for (unsigned int i = 0; i < device->nprocs; i++) {
    infos[i].pid = device->procs[i].pid;
    infos[i].usedGpuMemory = device->procs[i].mem;
    infos[i].gpuInstanceId = 0xFFFFFFFFu;
    infos[i].computeInstanceId = 0xFFFFFFFFu;
  }
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_v1_t *infos) {
  CHECK_DEV("nvmlDeviceGetComputeRunningProcesses");
  nvmlReturn_t rc = NVML_SUCCESS;
  if (!process_count_ok(device, infoCount, infos, &rc)) return rc;
  for (unsigned int i = 0; i < device->nprocs; i++) {
    infos[i].pid = device->procs[i].pid;
    infos[i].usedGpuMemory = device->procs[i].mem;
  }
  return NVML_SUCCESS;
}

#if FAKE_NVML_DRIVER >= 450
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos) {
  CHECK_DEV("nvmlDeviceGetComputeRunningProcesses_v2");
  return processes_v2(device, infoCount, infos);
}
#endif

#if FAKE_NVML_DRIVER >= 510
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos) {
  CHECK_DEV("nvmlDeviceGetComputeRunningProcesses_v3");
  return processes_v2(device, infoCount, infos);
}
#endif

nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, unsigned int *mode) {
  CHECK_DEV("nvmlDeviceGetPersistenceMode");
  if (!mode) return NVML_ERROR_INVALID_ARGUMENT;
  *mode = device->persistence;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode) {
  CHECK_DEV("nvmlDeviceGetMigMode");
  if (!currentMode || !pendingMode) return NVML_ERROR_INVALID_ARGUMENT;
  if (device->arch < 7) return NVML_ERROR_NOT_SUPPORTED; /* MIG exists from Ampere on */
  *currentMode = device->mig;
  *pendingMode = device->mig;
  return NVML_SUCCESS;
}
