#ifndef WA_CLIBCAP_SHIM_H
#define WA_CLIBCAP_SHIM_H
// libcap: the runner reads its own effective capabilities before it asks the kernel for
// namespaces and rules, so it can say what is missing instead of failing half-way.
#include <sys/capability.h>
#endif
