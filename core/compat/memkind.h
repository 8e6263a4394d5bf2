/* memkind.h for programs written against memkind: everything memkind-fixed offers
 * is declared in memkind_fixed.h. Add this folder to the include path
 * (pkg-config --cflags memkind-fixed-compat). */
#include <memkind_fixed.h>
