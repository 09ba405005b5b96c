/**
 * Connectors (drivers/gpu/drm/drm_connector.c of Linux v6.18; the same in v6.12.19), reduced to
 * what SETCRTC needs of them: a refcounted mode object id (drm_connector_lookup() takes a
 * reference with kref_get_unless_zero(), drm_connector_put() drops it) and the device's
 * connector count. A KMS driver creates one per output at load (drm_connector_init()); the
 * device's reference keeps it as long as the device. Connector states, encoders, probing and
 * properties are not modeled: SETCRTC's connectors are looked up, counted and put, and the
 * CRTC's link to them is not tracked.
 */

import { SlabObject } from "@primetime/kernel";
import type { DrmDevice } from "./drm-device.js";
import type { DrmFile } from "./drm-file.js";
import {
  DRM_MODE_OBJECT_CONNECTOR,
  DrmModeObject,
  drmModeObjectAdd,
  drmModeObjectFind,
  drmModeObjectPut,
} from "./drm-mode-object.js";

/**
 * Models struct drm_connector (the fields in use).
 * Locking: the id under idr_mutex.
 * References: `base.refcount`: the device's (from drm_connector_init()) and each lookup's.
 */
export class DrmConnector extends SlabObject {
  /** Models dev. */
  readonly dev: DrmDevice;
  /** Models base. */
  readonly base: DrmModeObject;
  /** Models index. */
  index = 0;

  constructor(dev: DrmDevice) {
    super("drm_connector");
    this.dev = dev;
    this.base = new DrmModeObject(this);
  }
}

/**
 * Models drm_connector_init(): an id for the connector (refcounted: the device holds the
 * first reference until drm_mode_config_cleanup(), which the model never runs) and its place in
 * the device's list. 0 or the id allocation's errno.
 * Locking: takes idr_mutex; at load nobody else can reach the list.
 * References: the device's.
 */
export async function drmConnectorInit(dev: DrmDevice, connector: DrmConnector): Promise<number> {
  const config = dev.modeConfig;
  const ret = await drmModeObjectAdd(
    dev,
    connector.base,
    DRM_MODE_OBJECT_CONNECTOR,
    true,
    async () => {
      // drm_connector_free(): unreachable while the device holds its reference
    },
  );
  if (ret) return ret;
  connector.index = config.numConnector++;
  config.connectorList.push(connector);
  return 0;
}

/**
 * Models drm_connector_lookup(): the connector of `id` with a reference, or null.
 * Locking: takes idr_mutex.
 * References: returns one, which the caller puts.
 */
export async function drmConnectorLookup(
  dev: DrmDevice,
  file: DrmFile | null,
  id: number,
): Promise<DrmConnector | null> {
  const obj = await drmModeObjectFind(dev, file, id, DRM_MODE_OBJECT_CONNECTOR);
  return obj ? (obj.owner as DrmConnector) : null;
}

/**
 * Models drm_connector_put().
 * Locking: none.
 * References: drops one.
 */
export async function drmConnectorPut(connector: DrmConnector): Promise<void> {
  await drmModeObjectPut(connector.base);
}
