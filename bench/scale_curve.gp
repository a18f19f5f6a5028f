# docs/scale_curve.svg from docs/scale_curve.dat (bench/scale_run.sh passes both names):
#   gnuplot -e "datafile='docs/scale_curve.dat'; outfile='docs/scale_curve.svg'" bench/scale_curve.gp
# Left: CPU per delivered message (the nodes' process, the homeserver, both) against the number
# of nodes, with the goal: 1.2x the 2-node total. Right: resident memory per node.
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

stats datafile using 4 every ::0::0 nooutput
goal = 1.2 * STATS_min  # the first row's total (the fewest nodes) sets the goal line

set multiplot layout 1,2
set title "CPU per delivered message"
set ylabel "µs"
set yrange [0:*]
plot datafile using 1:4 with linespoints lw 2 pt 7 title "total", \
     datafile using 1:2 with linespoints lw 2 pt 5 title "nodes (this process)", \
     datafile using 1:3 with linespoints lw 2 pt 9 title "mrt serve", \
     goal with lines dt 2 lc rgb "red" title "goal: 1.2 × the first total"
set title "Resident memory"
set ylabel "MiB"
plot datafile using 1:5 with linespoints lw 2 pt 7 title "per node (process growth / N)", \
     datafile using 1:6 with linespoints lw 2 pt 5 title "mrt serve, whole"
unset multiplot
