/**
 * Who is on the other end of a Unix socket, as the kernel says (SO_PEERCRED: the pid, uid and gid
 * of the process that connected), read with libc's getsockopt through koffi — the FFI the agent
 * already uses for NVML, so no native module. Linux only: elsewhere, and whenever the kernel does not
 * answer, this throws, and the limits service refuses the connection (it never trusts a client's
 * own claim of who it is).
 */
import type { Socket } from 'node:net';
import { endianness } from 'node:os';
import type * as KoffiModule from 'koffi' with { 'resolution-mode': 'require' };

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, length: Uint32Array) => number;
let getsockopt: { fn: GetSockOpt; errno: () => number } | undefined;

/** SOL_SOCKET and SO_PEERCRED differ on a few architectures (asm-generic/socket.h and the arch overrides). */
function socketConstants(): { solSocket: number; soPeercred: number } {
  if (['mips', 'mipsel', 'mips64el'].includes(process.arch as string)) return { solSocket: 0xffff, soPeercred: 18 };
  if (process.arch === 'ppc64' || process.arch === 'ppc') return { solSocket: 1, soPeercred: 21 };
  return { solSocket: 1, soPeercred: 17 };
}

function libcGetsockopt(): { fn: GetSockOpt; errno: () => number } {
  if (process.platform !== 'linux') throw new Error(`peer credentials (SO_PEERCRED) are read on Linux only, not on ${process.platform}`);
  if (!getsockopt) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const koffi = require('koffi') as typeof KoffiModule;
    const libc = koffi.load('libc.so.6');
    getsockopt = { fn: libc.func('int getsockopt(int sockfd, int level, int optname, void *optval, unsigned int *optlen)') as GetSockOpt, errno: () => koffi.errno() };
  }
  return getsockopt;
}

/** The connecting process's credentials; throws when they cannot be read. */
export function peerCredentials(socket: Socket): PeerCredentials {
  // net.Socket keeps its descriptor on the (undocumented, long-stable) libuv handle
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no file descriptor');
  const { fn, errno } = libcGetsockopt();
  const { solSocket, soPeercred } = socketConstants();
  const ucred = Buffer.alloc(12); // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  const length = new Uint32Array([ucred.length]);
  if (fn(fd, solSocket, soPeercred, ucred, length) !== 0) throw new Error(`getsockopt(SO_PEERCRED) failed (errno ${errno()})`);
  if (length[0] !== ucred.length) throw new Error(`getsockopt(SO_PEERCRED) returned ${length[0]} bytes, not a struct ucred`);
  // native byte order (s390x and ppc64 are big-endian)
  return endianness() === 'BE'
    ? { pid: ucred.readInt32BE(0), uid: ucred.readUInt32BE(4), gid: ucred.readUInt32BE(8) }
    : { pid: ucred.readInt32LE(0), uid: ucred.readUInt32LE(4), gid: ucred.readUInt32LE(8) };
}
