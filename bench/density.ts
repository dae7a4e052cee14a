/**
 * Density: resident memory per idle Keycloak instance of the smallest node size (`b2-4`), N instances at once.
 *
 * Usage: npx tsx bench/density.ts [N] [version]   (default 8 instances of the catalog's first version)
 *        BENCH_VARIANTS=shipped,keycloak-g1 npx tsx bench/density.ts 8   (instances per variant: N for the first
 *        variant, BENCH_OTHERS (default 2) for each other one)
 *
 * Each instance is a bare `kc.sh start --optimized` set up as the local driver sets one up (bench/bare-keycloak.ts),
 * on a database of its own copied from a template that one first start filled (the schema and master realm), so
 * the N starts do not each spend a minute creating the schema. Once all are ready they idle for BENCH_IDLE_S
 * seconds (default 60), then RSS and PSS (smaps_rollup) of each JVM are read. Variants, side by side:
 *   - shipped: the JVM options `renderKeycloakSettings` gives a b2-4 now;
 *   - keycloak-g1: Keycloak's own defaults (G1) with our heap bounds, as shipped before issue 13;
 *   - others as defined below, to compare.
 * Printed: start time, RSS and PSS per instance (mean, max) per variant, ratios against keycloak-g1, the host's
 * memory, and the load average before and after.
 */
import { setTimeout as delay } from 'node:timers/promises';
import os from 'node:os';
import { B2_4, benchArea, distribution, loadAverage, memoryOf, type BareKeycloak } from './bare-keycloak.js';
import { KEYCLOAK_DEFAULT_JAVA_OPTIONS } from '../src/drivers/local/keycloak-config.js';
import { loadConfig } from '../src/config/load-config.js';

const N = Number(process.argv[2] ?? 8);
const version =
  process.argv[3] ?? loadConfig({ DATA_DIR: os.tmpdir() }).catalog.serviceTypes[0]!.versions[0]!;
const OTHERS = Number(process.env.BENCH_OTHERS ?? 2);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 60);

/** JAVA_OPTS replaced whole (kc.sh then adds no heap options of its own), or only options appended. */
type Variant = { heap?: string; extraJavaOptions?: string[]; javaOpts?: string };
const VARIANTS: Record<string, Variant> = {
  shipped: {},
  // Before issue 13: Keycloak's G1 defaults, the heap from renderKeycloakSettings without our small-node options.
  'keycloak-g1': {
    javaOpts: `${KEYCLOAK_DEFAULT_JAVA_OPTIONS} -Xms64m -Xmx1024m -XX:ActiveProcessorCount=2`,
  },
  serial: {
    javaOpts: `${KEYCLOAK_DEFAULT_JAVA_OPTIONS.replace('-XX:+UseG1GC', '-XX:+UseSerialGC')} -Xms64m -Xmx1024m -XX:ActiveProcessorCount=2`,
  },
  'g1-uncommit': {
    javaOpts: `${KEYCLOAK_DEFAULT_JAVA_OPTIONS} -Xms64m -Xmx1024m -XX:ActiveProcessorCount=2 -XX:G1PeriodicGCInterval=15000 -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30`,
  },
  'serial-c1': {
    javaOpts: `${KEYCLOAK_DEFAULT_JAVA_OPTIONS.replace('-XX:+UseG1GC', '-XX:+UseSerialGC')} -Xms64m -Xmx1024m -XX:ActiveProcessorCount=2 -XX:TieredStopAtLevel=1`,
  },
};

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

async function main() {
  const chosen = (process.env.BENCH_VARIANTS ?? 'shipped,keycloak-g1').split(',');
  for (const name of chosen) if (!VARIANTS[name]) throw new Error(`unknown variant ${name}`);
  const loadBefore = loadAverage();
  console.log(
    `density: Keycloak ${version}, ${N} × b2-4 (${chosen[0]}) + ${OTHERS} per other variant; load ${loadBefore}`,
  );
  const dist = await distribution(version);
  const area = await benchArea('density');
  try {
    const templateDb = await area.database();
    const first = await area.instance({ dist, database: templateDb });
    console.log(
      `template: first start (schema, master realm) ${((await first.start()) / 1000).toFixed(1)} s`,
    );
    await first.remove();

    const started: { variant: string; instance: BareKeycloak; ms: number }[] = [];
    const queue: { variant: string; make: () => Promise<BareKeycloak> }[] = [];
    for (const [index, variant] of chosen.entries()) {
      const v = VARIANTS[variant]!;
      for (let i = 0; i < (index === 0 ? N : OTHERS); i++)
        queue.push({
          variant,
          make: async () =>
            area.instance({
              dist,
              database: await area.database(templateDb),
              nodeSize: B2_4,
              heap: v.heap,
              extraJavaOptions: v.extraJavaOptions,
              javaOpts: v.javaOpts,
            }),
        });
    }
    // Two at a time: the machine has 2 CPUs.
    const run = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const instance = await next.make();
        const ms = await instance.start();
        started.push({ variant: next.variant, instance, ms });
        console.log(`  ${next.variant} ${instance.name}: ready after ${(ms / 1000).toFixed(1)} s`);
      }
    };
    await Promise.all([run(), run()]);
    console.log(`all ${started.length} ready; idling ${IDLE_S} s`);
    await delay(IDLE_S * 1000);

    const rows = chosen.map((variant) => {
      const mine = started.filter((s) => s.variant === variant);
      const memory = mine.map((s) => memoryOf(s.instance.pid()));
      return {
        variant,
        n: mine.length,
        startS: mean(mine.map((s) => s.ms)) / 1000,
        rss: mean(memory.map((m) => m.rssMb)),
        rssMax: Math.max(...memory.map((m) => m.rssMb)),
        pss: mean(memory.map((m) => m.pssMb)),
      };
    });
    const base = rows.find((r) => r.variant === 'keycloak-g1');
    console.log('\nvariant        n   start (mean)  RSS mean  RSS max   PSS mean  RSS / keycloak-g1');
    for (const r of rows)
      console.log(
        `${r.variant.padEnd(14)} ${String(r.n).padStart(2)}  ${r.startS.toFixed(1).padStart(8)} s  ` +
          `${r.rss.toFixed(0).padStart(5)} MB  ${r.rssMax.toFixed(0).padStart(5)} MB  ${r.pss.toFixed(0).padStart(6)} MB  ` +
          `${base ? (r.rss / base.rss).toFixed(2) : '–'}`,
      );
    const totalGb = os.totalmem() / 2 ** 30;
    console.log(
      `\nhost: ${totalGb.toFixed(1)} GiB RAM, ${os.cpus().length} CPUs; goal ≤ 450 MB RSS per idle b2-4 ` +
        `(${rows[0]!.rss <= 450 ? 'met' : 'missed'}); load before ${loadBefore}, after ${loadAverage()}`,
    );
  } finally {
    await area.cleanup();
  }
}

await main();
