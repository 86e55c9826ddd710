/**
 * RTP ports of one element on one address: UDP sockets bound ahead of need,
 * so the port an SDP advertises is one the element already holds (binding
 * is asynchronous in Node; an SDP is written synchronously).
 *
 * - Ports are even (RFC 3550 §11: RTP on even ports), tried from the
 *   element's own `base` upwards, cycling over [low, high); a port another
 *   process holds (EADDRINUSE, parallel labs on the same loopback address)
 *   is skipped and the next one tried.
 * - `take()` hands out a port at once: a bound one from the spare sockets
 *   when there is one (then the pool binds a new spare), otherwise the next
 *   free port number, bound right away (best effort: a failure is reported
 *   to `onWarning` and the call has no media on that port).
 * - `claim(port)` gives the taken port's socket to the RTP session that
 *   uses it; `release(port)` closes it. A port taken and never claimed (an
 *   SDP that was not used) is closed after `leaseMs`, unless its owner says
 *   it is still in use (`inUse`: an SDP answer not sent yet, a call still
 *   ringing).
 * - `close()` closes every socket the pool opened: nothing is left bound.
 */
import dgram from 'node:dgram';

export interface PortPoolOptions {
  address: string;
  /** First port tried (rounded up to even). */
  base: number;
  /** Ports cycle over [low, high) (default 20000-60000). */
  low?: number;
  high?: number;
  /** Bound sockets kept ready (default 2). */
  spare?: number;
  /** Ports tried per bind before giving up (default 64). */
  attempts?: number;
  /** A taken port not claimed for this long is closed (default 60 s)... */
  leaseMs?: number;
  /** ...unless this says a call still holds it. */
  inUse?(port: number): boolean;
  onWarning?(text: string): void;
}

interface Lease {
  bound: Promise<dgram.Socket | null>;
  takenAtMs: number;
}

/** Binds a UDP socket on exactly address:port; rejects with the system error (EADDRINUSE...). */
export function bindUdp(address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
    const onError = (error: Error): void => {
      socket.close();
      reject(error);
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export class RtpPortPool {
  readonly address: string;
  readonly #low: number;
  readonly #high: number;
  readonly #spare: number;
  readonly #attempts: number;
  readonly #leaseMs: number;
  readonly #onWarning: (text: string) => void;
  readonly #inUse: (port: number) => boolean;
  #cursor: number;
  /** Every port the pool holds or is binding: never handed out twice. */
  readonly #held = new Set<number>();
  /** Every socket the pool opened and has not closed. */
  readonly #sockets = new Map<number, dgram.Socket>();
  readonly #ready: number[] = [];
  readonly #leases = new Map<number, Lease>();
  #filling: Promise<void> | null = null;
  #closed = false;

  constructor(options: PortPoolOptions) {
    this.address = options.address;
    this.#low = options.low ?? 20000;
    this.#high = options.high ?? 60000;
    this.#spare = options.spare ?? 2;
    this.#attempts = options.attempts ?? 64;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#onWarning = options.onWarning ?? (() => undefined);
    this.#inUse = options.inUse ?? (() => false);
    const base = Math.min(Math.max(options.base, this.#low), this.#high - 2);
    this.#cursor = base + (base % 2) - 2;
  }

  /** Sockets open right now (spares, taken and claimed). */
  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Binds spare sockets until `spare` are ready. */
  fill(): Promise<void> {
    this.#filling ??= (async () => {
      try {
        while (!this.#closed && this.#ready.length < this.#spare) {
          const port = await this.#bindNext();
          if (port === null) break;
          this.#ready.push(port);
        }
      } finally {
        this.#filling = null;
      }
    })();
    return this.#filling;
  }

  /** A port for an SDP, now. */
  take(): number {
    this.#sweep();
    const now = performance.now();
    const ready = this.#ready.shift();
    if (ready !== undefined) {
      const socket = this.#sockets.get(ready) ?? null;
      this.#leases.set(ready, { bound: Promise.resolve(socket), takenAtMs: now });
      void this.fill();
      return ready;
    }
    const port = this.#nextFree();
    this.#held.add(port);
    const bound = bindUdp(this.address, port).then(
      (socket) => this.#adopt(port, socket),
      (error: NodeJS.ErrnoException) => {
        this.#held.delete(port);
        this.#onWarning(`RTP port ${this.address}:${port} could not be bound (${error.code ?? error.message}): no media on it`);
        return null;
      },
    );
    this.#leases.set(port, { bound, takenAtMs: now });
    void this.fill();
    return port;
  }

  /** The socket of a taken port, for the RTP session that uses it (null: not taken here, or not bound). */
  async claim(port: number): Promise<dgram.Socket | null> {
    const lease = this.#leases.get(port);
    if (lease === undefined) return null;
    this.#leases.delete(port);
    return lease.bound;
  }

  /** Closes a port's socket (the call that used it is over). */
  release(port: number): Promise<void> {
    const lease = this.#leases.get(port);
    this.#leases.delete(port);
    const socket = this.#sockets.get(port);
    if (socket === undefined) {
      // Still binding: close it once bound.
      return lease === undefined ? Promise.resolve() : lease.bound.then((s) => (s === null ? undefined : this.release(port)));
    }
    this.#sockets.delete(port);
    this.#held.delete(port);
    const i = this.#ready.indexOf(port);
    if (i >= 0) this.#ready.splice(i, 1);
    return closeSocket(socket);
  }

  /** Closes a taken port that nothing claimed (its call is over); a claimed one is left to its session. */
  releaseIfLeased(port: number): void {
    if (this.#leases.has(port)) void this.release(port);
  }

  /** Closes every socket; later binds close themselves. */
  async close(): Promise<void> {
    this.#closed = true;
    const sockets = [...this.#sockets.values()];
    this.#sockets.clear();
    this.#held.clear();
    this.#ready.length = 0;
    const pending = [...this.#leases.values()].map((l) => l.bound);
    this.#leases.clear();
    await Promise.all([...sockets.map(closeSocket), this.#filling, ...pending]);
  }

  #adopt(port: number, socket: dgram.Socket): dgram.Socket | null {
    if (this.#closed) {
      socket.close();
      return null;
    }
    // Send errors (a datagram the kernel refuses) must not crash the process; the session counts them.
    socket.on('error', (error) => this.#onWarning(`RTP socket ${this.address}:${port}: ${error.message}`));
    this.#sockets.set(port, socket);
    return socket;
  }

  /** Binds the next free port, skipping ports in use elsewhere; null when `attempts` ports failed. */
  async #bindNext(): Promise<number | null> {
    let last = '';
    for (let i = 0; i < this.#attempts && !this.#closed; i++) {
      const port = this.#nextFree();
      this.#held.add(port);
      try {
        const socket = await bindUdp(this.address, port);
        return this.#adopt(port, socket) === null ? null : port;
      } catch (error) {
        this.#held.delete(port);
        const code = (error as NodeJS.ErrnoException).code ?? '';
        last = code || (error as Error).message;
        // Another process holds it (or it is reserved): move on to the next port.
        if (code === 'EADDRINUSE' || code === 'EACCES') continue;
        break;
      }
    }
    if (!this.#closed) this.#onWarning(`no RTP port could be bound on ${this.address} (${last})`);
    return null;
  }

  #nextFree(): number {
    const span = this.#high - this.#low;
    for (let i = 0; i < span / 2; i++) {
      this.#cursor += 2;
      if (this.#cursor >= this.#high) this.#cursor = this.#low + (this.#low % 2);
      if (!this.#held.has(this.#cursor)) return this.#cursor;
    }
    return this.#cursor;
  }

  /** Closes ports taken long ago and never claimed (an offer that was not sent, a re-INVITE answer that kept its port). */
  #sweep(): void {
    const limit = performance.now() - this.#leaseMs;
    for (const [port, lease] of this.#leases) {
      if (lease.takenAtMs > limit || this.#inUse(port)) continue;
      void this.release(port);
    }
  }
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
