// The part of the `net-snmp` package (it ships no TypeScript types) that the
// SNMP alert channel uses: a v2c session that sends traps.

declare module 'net-snmp' {
  export interface Varbind {
    oid: string;
    type: number;
    value: string | number | Buffer;
  }

  export interface SessionOptions {
    /** UDP port that traps and informs are sent to (default 162). */
    trapPort?: number;
    version?: number;
    transport?: 'udp4' | 'udp6';
  }

  export interface TrapOptions {
    /** sysUpTime.0 in hundredths of a second (default: this process's uptime). */
    upTime?: number;
  }

  export interface Session {
    /** Sends an SNMPv2-Trap whose snmpTrapOID.0 is `oid`; the callback runs once the datagram is sent. */
    trap(oid: string, varbinds: Varbind[], options: TrapOptions, callback: (error: Error | null) => void): Session;
    on(event: 'error', listener: (error: Error) => void): Session;
    close(): void;
  }

  interface NetSnmp {
    Version2c: number;
    ObjectType: { OctetString: number };
    createSession(target: string, community: string, options?: SessionOptions): Session;
  }

  const snmp: NetSnmp;
  export default snmp;
}
