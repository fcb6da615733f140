# @file core/module.mk
SRCS += core/loop.c core/log.c core/jsonw.c core/evlog.c core/table.c \
	core/profile.c core/tones.c core/pcapw.c core/sipuri.c \
	core/text.c
SRCS += core/subscriber.c core/binding.c core/profile_dir.c
SRCS += core/job.c core/reload.c core/memtrim.c core/timers.c
SRCS += core/report.c core/report_svg.c
SRCS += core/ids.c core/jsonchk.c core/state.c core/state_file.c core/state_load.c
SRCS += core/urlsign.c
