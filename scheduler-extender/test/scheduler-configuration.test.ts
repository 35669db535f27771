import { describe, expect, it } from 'vitest';
import { extenderStanza, schedulerConfigurationWithExtender } from '../src/scheduler-configuration.js';

describe('extenderStanza', () => {
  it('is ignorable, node-cache capable, with both verbs and no managed resources', () => {
    expect(extenderStanza({ urlPrefix: 'http://127.0.0.1:8095/' })).toEqual({
      urlPrefix: 'http://127.0.0.1:8095',
      filterVerb: 'filter',
      prioritizeVerb: 'prioritize',
      weight: 5,
      enableHTTPS: false,
      nodeCacheCapable: true,
      managedResources: [],
      ignorable: true,
      httpTimeout: '2s',
    });
  });

  it('takes weight and timeout; https from the URL', () => {
    const s = extenderStanza({ urlPrefix: 'https://x:1', weight: 2, httpTimeout: '500ms' });
    expect([s.weight, s.httpTimeout, s.enableHTTPS]).toEqual([2, '500ms', true]);
  });

  it('fits a whole KubeSchedulerConfiguration', () => {
    const c = schedulerConfigurationWithExtender({ urlPrefix: 'http://h:1', kubeconfig: '/k' });
    expect(c).toMatchObject({
      apiVersion: 'kubescheduler.config.k8s.io/v1',
      kind: 'KubeSchedulerConfiguration',
      clientConnection: { kubeconfig: '/k' },
      extenders: [{ urlPrefix: 'http://h:1', ignorable: true }],
    });
  });
});
