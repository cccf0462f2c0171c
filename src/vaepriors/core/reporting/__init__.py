"""What every table and figure uses: seed statistics, the paper's reported cells, LaTeX cells, figure saving."""
