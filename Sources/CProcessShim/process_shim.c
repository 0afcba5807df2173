#include "process_shim.h"
void wa_process_shim_placeholder(void) {}
