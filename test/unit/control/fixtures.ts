/** Shared fixtures: the A40 ResNet-50 batch-128 rows of Zeus's summary_power_a40.csv, verbatim. */
import type { Trace } from '../../../agent/carbon/trace';
import type { BuildOptions } from '../../../agent/profile/profile';
import { parseZeusProfile } from '../../../agent/profile/zeus';

export const A40_RESNET50_B128_CSV = `dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power
imagenet,resnet50,128,adadelta,100,11009.39,114.70916054489874
imagenet,resnet50,128,adadelta,125,9375.09,125.06183716668464
imagenet,resnet50,128,adadelta,150,6147.46,144.2607231260645
imagenet,resnet50,128,adadelta,175,4463.24,160.86341752430866
imagenet,resnet50,128,adadelta,200,3992.39,179.22631615034337
imagenet,resnet50,128,adadelta,225,3862.42,198.38104893564224
imagenet,resnet50,128,adadelta,250,3804.21,216.21927459289037
imagenet,resnet50,128,adadelta,275,3777.29,230.7632940180274
imagenet,resnet50,128,adadelta,300,3739.5,244.26058546458663
imagenet,resnet50,64,adadelta,300,3900,240
`;

export function a40(options: BuildOptions = {}) {
  return parseZeusProfile(A40_RESNET50_B128_CSV, 'a40', { workload: 'resnet50', batch: 128 }, options);
}

export const HOUR_MS = 3_600_000;
export const T0 = Date.UTC(2023, 0, 1);

export function traceOf(values: ArrayLike<number>, stepMs = HOUR_MS): Trace {
  const n = values.length;
  const timestampsMs = new Float64Array(n);
  for (let i = 0; i < n; i++) timestampsMs[i] = T0 + i * stepMs;
  return { name: 'test', timestampsMs, intensitiesGPerKwh: Float64Array.from(values), stepMs, filledPoints: 0 };
}

/** kWh from W × s. */
export const kwh = (w: number, s: number) => (w * s) / 3.6e6;
