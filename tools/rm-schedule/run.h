/* rm-schedule run / report (tools/rm-schedule/run.c). */
#ifndef RM_SCHEDULE_RUN_H
#define RM_SCHEDULE_RUN_H

/* argv[0] is the verb ("run" or "report"); returns the exit status. */
int rm_run_main(int argc, char **argv);

#endif
