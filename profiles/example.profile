# example.profile  every directive of the profile format (README.md)
#
# Load it with:  build/cmrlab serve --profile profiles/example.profile
# Lines are "DIRECTIVE ID KEY=VALUE ..."; a field that starts with '#'
# begins a comment.

# ---- resources ------------------------------------------------------------
#
# The built-in ringback-default and ringtone-default always exist.  Media
# files are read once at load; relative paths start at this folder.  The
# type follows the extension (.wav .mp3 .ogg .mp4) unless type= says.
#
#   resource welcome file=media/welcome.wav
#   resource promo   file=media/promo.mp4
#   resource ringback-default file=media/our-ringback.wav   # replaces it
#
# The file below ships with this folder so that the example loads as it
# is.  Any bytes can be a resource: in HTTP mode they are served as they
# are, with the type given here; only WAV can be streamed as RTP.
resource profile-notes file=README.md type=text/markdown

# ---- subscribers ----------------------------------------------------------

# The delivery mode follows what each call's terminals support.
subscriber alice mode=auto

# Always HTTP mode: terminals get an Alert-Info URL to fetch.
subscriber bob mode=http cmrbt=ringback-default cmrt=ringtone-default

# Application server mode (early-session), with digest authentication.
# Quotes keep spaces and a '#' inside a value.
subscriber carol mode=as password="correct horse # battery"

# Gateway mode, reachable without REGISTER through two static contacts.
subscriber dave mode=gateway contact=sip:dave@127.0.0.1:5070
subscriber dave contact=sip:dave@127.0.0.1:5072;transport=tcp  # adds one

# No CMR at all: calls pass through untouched.
subscriber eve mode=off

# Early media always (ordinary phones hear the ringback in the 18x).
subscriber frank mode=early-media

# In auto, a caller that asks for no CMR mode gets only the URL.
subscriber grace mode=auto plain=http

# A numbered block: 2000, 2001, ... 2009, all with the same settings.
subscriber 2000-2009 mode=auto password=lab

# ---- defaults -------------------------------------------------------------

# What callers that ask for no CMR mode get in auto, unless a subscriber
# says otherwise (plain=): early-media (the default) or http.
defaults plain=early-media

# ---- time limits ----------------------------------------------------------

# A callee rings for at most 60 seconds (then the caller gets 408), and an
# answered call lasts at most 2 hours (then both sides get a BYE); 0 would
# mean no limit.  Without this line: ring=180 call=14400.
limits ring=60 call=7200

# ---- per calling party ----------------------------------------------------

# When bob calls alice, bob hears the ringtone as his ringback tone, and
# alice's terminal rings with the ringback tone.
rule alice from=bob cmrbt=ringtone-default cmrt=ringback-default

# Calls from 2000 to any of 2001-2009 ring with the ringback tone.
rule 2001-2009 from=2000 cmrt=ringback-default
