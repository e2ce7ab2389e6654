/* lhost/lhost.h — the whole plugin SDK: include this one header to write a plugin. */
#ifndef LHOST_LHOST_H
#define LHOST_LHOST_H

#include "callback.h"
#include "host.h"
#include "logger.h"
#include "metric.h"
#include "params.h"
#include "plugin.h"
#include "types.h"
#include "version.h"

#endif
