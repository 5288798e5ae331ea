#include <stdio.h>
#include "lab/lab.h"
int lab_drive(const lab_drive_opts *o)
{
    (void)o;
    fprintf(stderr, "not yet\n");
    return 1;
}
