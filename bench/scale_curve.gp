# docs/scale_curve.svg from docs/scale_curve.dat (bench/scale_run.sh passes both names):
#   gnuplot -e "datafile='docs/scale_curve.dat'; outfile='docs/scale_curve.svg'" bench/scale_curve.gp
# Left: CPU per delivered message (the nodes' process, the homeserver, both) against the number
# of nodes, with the goal (1.2x the 2-node figure) for the total and the nodes alone. Right:
# resident memory per node (the process's growth over its size before the first node, / N)
# and the homeserver's.
if (!exists("datafile")) datafile = 'docs/scale_curve.dat'
if (!exists("outfile")) outfile = 'docs/scale_curve.svg'
set terminal svg size 960,420 dynamic font "sans,12" background "white"
set output outfile
set datafile separator whitespace
set key top left
set grid
set logscale x
set xtics (2, 10, 50, 100)
set xrange [1.6:125]
set xlabel "nodes sharing one mrt serve (N/2 pairs, 200 msg/s in all)"

# The goal lines: 1.2x the first row's (the fewest nodes) total, and its nodes' share.
stats datafile using 4 every ::0::0 nooutput
goal = 1.2 * STATS_min
stats datafile using 2 every ::0::0 nooutput
node_goal = 1.2 * STATS_min

set multiplot layout 1,2
set title "CPU per delivered message"
set key top right
set ylabel "µs"
set yrange [0:1.6 * goal]  # room for the key above the lines
# Error bars: the rounds' lowest and highest figure (columns 11-14).
plot datafile using 1:4:13:14 with yerrorlines lw 2 pt 7 title "total", \
     datafile using 1:2:11:12 with yerrorlines lw 2 pt 5 title "nodes (this process)", \
     datafile using 1:3 with linespoints lw 2 pt 9 title "mrt serve", \
     goal with lines dt 2 lc rgb "red" title "1.2 × the first total", \
     node_goal with lines dt 3 lc rgb "dark-green" title "1.2 × the first nodes' figure"
set title "Resident memory"
set key top left
set yrange [0:*]
set offsets 0, 0, graph 0.25, 0  # room for the key above the lines
set ylabel "MiB"
plot datafile using 1:5 with linespoints lw 2 pt 7 title "per node (process growth / N)", \
     datafile using 1:6 with linespoints lw 2 pt 5 title "mrt serve, whole"
unset multiplot
