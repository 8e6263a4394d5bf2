/* memkind's internal header memkind_fixed.h: in memkind-fixed these declarations are part of
 * the public memkind_fixed.h. */
#include <memkind_fixed.h>
